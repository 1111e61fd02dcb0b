"""Pydantic's validation errors as the user's one-line messages.

Every line reads ``<file>: <dotted.key.path>: <what was found>; <what is
allowed>``. The path comes from pydantic's ``loc`` (list indices as
``model.sizes[2]``); the file label is the path the user gave, ``<dict>``, or
``--set <override>`` when the key was set on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from nnlab.config.values import PROBLEM, Loc, closest, show

Label = Callable[[Loc], str]


def dotted(loc: Loc) -> str:
    """``('model', 'sizes', 2)`` -> ``model.sizes[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def line(label: str, loc: Loc, message: str) -> str:
    return f"{label}: {dotted(loc)}: {message}" if loc else f"{label}: {message}"


def error_lines(exc: ValidationError, root: type[BaseModel], raw: Any, label: Label) -> list[str]:
    """One line per problem in ``exc`` (raised validating ``raw`` as ``root``)."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == PROBLEM:
            for sub, message in err["ctx"]["problems"]:
                lines.append(line(label(loc + tuple(sub)), loc + tuple(sub), message))
        elif err["type"] == "extra_forbidden":
            lines.append(line(label(loc), loc, unknown_key(loc, root, raw)))
        else:  # not expected: every field has its own check; keep pydantic's words
            msg = err["msg"][:1].lower() + err["msg"][1:]
            lines.append(line(label(loc), loc, f"got {show(err.get('input'))}; {msg}"))
    return list(dict.fromkeys(lines))


def unknown_key(loc: Loc, root: type[BaseModel], raw: Any) -> str:
    """``unknown key; did you mean 'x'?`` (or the valid keys) for the key at ``loc``."""
    section = model_at(root, loc[:-1])
    if section is None:
        return "unknown key"
    valid = section.valid_keys(raw_at(raw, loc[:-1]))
    match = closest(loc[-1], valid)
    if match:
        return f"unknown key; did you mean '{match}'?"
    return f"unknown key; valid keys: {', '.join(valid)}"


def model_at(root: type[BaseModel], loc: Loc) -> Any:
    """The section model at ``loc`` (``('model', 'init')`` -> ``InitConfig``), or None."""
    cls: Any = root
    for part in loc:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        ann = field.annotation if field is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        cls = ann
    return cls


def raw_at(raw: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(raw, dict):
            raw = raw.get(part)
        elif isinstance(raw, list) and isinstance(part, int) and -len(raw) <= part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw
