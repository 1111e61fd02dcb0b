"""Hyperparameter declarations: what a part (a layer kind, ...) takes, said once, beside the part.

A part lists its hyperparameters as ``{name: Hyper(...)}``; the config
validates a user's values against that declaration (type, bounds, required
or default), and messages, ``--dry-run`` output and the saved config follow
from it. No NumPy here: the config reads declarations without building
anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED = object()  # a Hyper default meaning "must be given"


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: ``kind`` int, float or bool; ``default`` (REQUIRED: none); bounds; a short doc."""

    kind: type
    default: Any = REQUIRED
    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED
