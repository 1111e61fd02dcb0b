"""Hyperparameter declarations: what a part takes, said once, beside the part.

Every layer kind, activation, initializer and optimizer lists its
hyperparameters as ``hyper = {name: Hyper(...)}`` (a class attribute, or
``@INITIALIZERS.register("normal", hyper=...)`` for a function). The config
validates a user's values against that declaration (type, bounds, required
or default), and its messages, ``--dry-run`` output and the saved config
follow from it; the part's constructor takes its values from it too
(``resolve``). No NumPy here: the config reads declarations without building
anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED = object()  # a Hyper default meaning "must be given"


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: ``kind`` int, float or bool; ``default`` (REQUIRED: none); bounds; a short doc.

    Bounds: ``ge`` / ``gt`` below, ``lt`` above (int: ``ge`` only).
    """

    kind: type
    default: Any = REQUIRED
    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (int, float, bool):
            raise TypeError(f"Hyper kind must be int, float or bool, got {self.kind!r}")
        if self.kind is not float and (self.gt is not None or self.lt is not None):
            raise TypeError("gt and lt bound float hyperparameters only (an int takes ge)")
        if self.kind is bool and self.ge is not None:
            raise TypeError("a bool hyperparameter takes no bounds")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def resolve(owner: str, hyper: Mapping[str, Hyper], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with the declared defaults filled in, in the declared order.

    A name ``hyper`` does not declare, or a required one left out, is a
    TypeError, as it would be for a call (the config has refused both
    already, with the user's words).
    """
    unknown = [k for k in given if k not in hyper]
    if unknown:
        raise TypeError(f"{owner} takes no hyperparameter {unknown[0]!r}; it takes: {', '.join(hyper) or 'none'}")
    missing = [k for k, h in hyper.items() if h.required and k not in given]
    if missing:
        raise TypeError(f"{owner} needs hyperparameter {missing[0]!r}")
    return {k: given.get(k, h.default) for k, h in hyper.items()}
