"""``--set key.path=value`` overrides, Hydra-style, on a not yet validated config dict.

The key is a dotted path with optional list indices (``model.sizes[1]``,
``model.activation[0].slope``); the value is read as YAML (``[784, 30, 10]``,
``adam``, ``null``, ``{name: leaky_relu, slope: 0.1}``) and replaces what was
there. Paths are checked against the schema before anything is set; values
are checked by the schema afterwards, with the override as the error's label.

Setting a parameter of a part written as a bare name turns it into a mapping
(``model.activation=relu`` then ``model.activation.slope=...`` gives
``{name: relu, slope: ...}``); a key or index the file does not have starts
from the schema's default (``model.sizes[1]=100`` edits ``[784, 30, 10]``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from nnlab.config.messages import dotted, model_at, raw_at
from nnlab.config.values import Loc, closest, show
from nnlab.errors import UserError

_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[-?\d+\])*")
_PART = re.compile(r"([A-Za-z_][\w-]*)|\[(-?\d+)\]")

#: fields below which a path may go on: "list" takes [i]; "spec" takes one key
#: (name or a parameter); "speclist" takes either, or [i] then a key
_DEEP = {
    ("model", "sizes"): "list",
    ("model", "activation"): "speclist",
    ("model", "output"): "spec",
    ("model", "init", "weights"): "spec",
    ("model", "init", "biases"): "spec",
    ("regularization", "dropout"): "list",
    ("model", "input"): "list",
    ("model", "layers"): "layers",
}


class BadOverride(Exception):
    """One override that cannot be applied; ``str(err)`` is the message after ``--set <text>: ``."""


def apply_overrides(d: dict, overrides: Iterable[str]) -> dict:
    """A copy of ``d`` with each ``key.path=value`` applied in order (UserError if any is bad)."""
    return apply_with_sources(d, overrides)[0]


def apply_with_sources(d: dict, overrides: Iterable[str]) -> tuple[dict, list[tuple[Loc, str]]]:
    """As ``apply_overrides``, plus ``(location, override text)`` of each override applied."""
    from nnlab.config.schema import Config

    if isinstance(overrides, str):
        overrides = [overrides]
    data = copy.deepcopy(d)
    sources: list[tuple[Loc, str]] = []
    lines = []
    for text in overrides:
        try:
            path, value = parse_override(text)
            _check_path(Config, path)
            sources.append((_set(data, path, value, Config), text))
        except BadOverride as err:
            lines.append(f"--set {text}: {err}")
    if lines:
        raise UserError(*lines)
    return data, sources


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``"model.sizes[1]=100"`` -> ``(['model', 'sizes', 1], 100)``."""
    from nnlab.config.load import parse_yaml_value

    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise BadOverride("expected key.path=value")
    if not _PATH.fullmatch(key):
        raise BadOverride(f"bad key path '{key}'; expected names and [index], like model.sizes[1]")
    path = [name if name else int(index) for name, index in _PART.findall(key)]
    return path, parse_yaml_value(value)


def _check_path(root: Any, path: Sequence[str | int]) -> None:
    """Refuse keys the schema does not have, before anything is set."""
    cls = root
    for i, part in enumerate(path):
        here = tuple(path[:i])
        if isinstance(part, int):
            raise BadOverride(f"'{dotted(here)}' is a section, not a list")
        valid = cls.keys() if hasattr(cls, "keys") else sorted(cls.model_fields)
        if part not in valid:
            match = closest(part, valid)
            full = dotted((*here, part))
            if match:
                raise BadOverride(f"unknown key '{full}'; did you mean '{dotted((*here, match))}'?")
            raise BadOverride(f"unknown key '{full}'; valid keys: {', '.join(valid)}")
        section = model_at(root, (*here, part))
        if section is not None:
            cls = section
            continue
        field, rest = (*here, part), list(path[i + 1 :])
        shape = _DEEP.get(field, "value")
        kinds = [type(p) for p in rest]
        ok = (
            not rest
            or (shape == "list" and kinds == [int])
            or (shape == "spec" and kinds == [str])
            or (shape == "speclist" and kinds in ([int], [str], [int, str]))
            or (shape == "layers" and kinds[:1] == [int] and all(k is str for k in kinds[1:]))
        )
        if not ok:
            takes = {
                "list": "takes a list or one [index]",
                "spec": "takes a name, or 'name' and parameter keys",
                "speclist": "takes a name, a list, [index], or 'name' and parameter keys",
                "layers": "takes a list, [index], or [index] and a layer's keys",
                "value": "takes a single value",
            }[shape]
            raise BadOverride(f"unknown key '{dotted(path)}'; {dotted(field)} {takes}")
        return


def _set(data: dict, path: Sequence[str | int], value: Any, root: Any) -> Loc:
    """Set ``value`` at ``path`` in ``data`` (in place); returns the path with indices made >= 0."""
    from nnlab.config.load import config_to_dict

    node: Any = data
    done: list[str | int] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            if not -len(node) <= part < len(node):
                entries = f"{len(node)} {'entry' if len(node) == 1 else 'entries'}"
                raise BadOverride(f"index {part} is out of range; {dotted(tuple(done))} has {entries}")
            part %= len(node)
        here = (*done, part)
        if i == len(path) - 1:
            node[part] = value
            return here
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None:  # not in the file: start from the schema's default
            is_section = model_at(root, here) is not None
            child = {} if is_section else copy.deepcopy(raw_at(config_to_dict(root()), here))
        if isinstance(path[i + 1], str):
            if isinstance(child, str):
                child = {"name": child}  # relu -> {name: relu, <param>: ...}
            elif not isinstance(child, dict):
                message = f"{dotted(here)} is {show(child)}, not a mapping; cannot set '{path[i + 1]}' in it"
                raise BadOverride(message)
        elif not isinstance(child, list):
            message = f"{dotted(here)} is {show(child)}, not a list; set the whole list, like {dotted(here)}=[...]"
            raise BadOverride(message)
        node[part] = child
        node = child
        done.append(part)
    raise AssertionError("unreachable: empty path")
