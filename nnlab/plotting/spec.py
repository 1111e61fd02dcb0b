"""What a figure shows, as plain data: built first, then drawn (nnlab.plotting.draw).

A ``FigureSpec`` holds every number handed to matplotlib, so tests (and
scripts) can check plotted values against the CSV files without pixels.
This module does not import matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class SkipFigure(Exception):
    """The run lacks this figure's data: the message is the note printed instead.

    ``silent``: no note (the figure of an instrument that is off unless asked for).
    """

    def __init__(self, message: str, silent: bool = False) -> None:
        super().__init__(message)
        self.silent = silent


@dataclass
class Series:
    """One thing drawn in a panel.

    kind: "line" (x, y), "errorbar" (x, y ± yerr), "bar" (bars at x), "scatter" (points),
    "image" (``y`` a 2-D array, or height x width x 3, shown as pixels; ``style`` may give
    "colors", the values coloured in place of ``y``, and "cell_text", a string per cell).
    """

    label: str | None
    x: np.ndarray
    y: np.ndarray
    kind: str = "line"
    yerr: np.ndarray | None = None
    style: dict[str, Any] = field(default_factory=dict)


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    logy: bool = False
    percent_y: bool = False  # values are fractions in [0, 1], ticks shown as %
    ylim: tuple[float, float] | None = None
    xticks: list[tuple[float, str]] | None = None  # categorical axes: (position, label)
    yticks: list[tuple[float, str]] | None = None
    integer_x: bool = False  # epochs: whole-number ticks
    vlines: list[tuple[float, str]] = field(default_factory=list)  # (x, legend label)
    hlines: list[tuple[float, str]] = field(default_factory=list)  # (y, legend label)
    symlog_x: float | None = None  # a symmetric log x axis, linear within ± this value
    hide_yticks: bool = False  # ridge plots: the y offsets carry no value
    bar_labels: bool = False  # write each bar's value above it
    legend_title: str | None = None

    def get(self, label: str) -> Series:
        for s in self.series:
            if s.label == label:
                return s
        raise KeyError(f"no series {label!r}; have {[s.label for s in self.series]}")

    @property
    def labels(self) -> list[str | None]:
        return [s.label for s in self.series]


@dataclass
class FigureSpec:
    """A figure: file stem, overall title and its panels (left to right, then down)."""

    name: str
    title: str | None
    panels: list[Panel]
    ncols: int | None = None
    sharey: bool = False
    panel_size: tuple[float, float] = (6.4, 4.4)
    #: "constrained" (matplotlib lays out labels; slower) or "grid" (fixed spacing, for many small panels)
    layout: str = "constrained"

    def panel(self, title_start: str) -> Panel:
        for p in self.panels:
            if p.title.startswith(title_start):
                return p
        raise KeyError(f"no panel titled {title_start!r}...; have {[p.title for p in self.panels]}")
