"""Drawing a FigureSpec with matplotlib (Agg, headless; no pyplot global state)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnlab.plotting.spec import FigureSpec, Panel

FORMATS = ("png", "svg", "pdf")
DPI = 110


def draw(spec: FigureSpec):
    """The matplotlib Figure of ``spec`` (every value drawn comes from the spec).

    The figure gets its own Agg canvas: headless, and the global backend and
    pyplot's figure list are left alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(spec.panels)
    ncols = spec.ncols or min(n, 2)
    nrows = math.ceil(n / ncols)
    w, h = spec.panel_size
    fig = Figure(
        figsize=(w * ncols, h * nrows + (0.4 if spec.title else 0)),
        layout="constrained" if spec.layout == "constrained" else None,
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=spec.sharey)
    if spec.layout == "grid":
        top = 1 - (0.8 if spec.title else 0.3) / fig.get_figheight()
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.06, top=top, wspace=0.25, hspace=0.45)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _draw_panel(ax, spec.panels[i])
        else:
            ax.set_visible(False)
    if spec.title:
        fig.suptitle(spec.title, fontsize="large")
    return fig


def tick_labels(labels: list[str]) -> list[str]:
    """Configuration labels one key per line ("sizes=784-100-10, epochs=30" -> two lines)."""
    return [lab.replace(", ", "\n") for lab in labels]


def _crowded(labels, ax) -> bool:
    """True when the tick labels, drawn level, would touch or overlap each other."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in labels if t.get_text()), key=lambda b: b.x0)
    return any(a.x1 + 4 > b.x0 for a, b in zip(boxes, boxes[1:]))


def _draw_panel(ax, p: Panel) -> None:
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    for s in p.series:
        x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
        if p.logy:  # 0 has no place on a log axis (an output layer's zero start makes ‖δ‖ = 0): left out
            y = np.where(y > 0, y, np.nan)
        if s.kind == "line":
            ax.plot(x, y, label=s.label, **{"marker": "o" if len(x) <= 40 else None, "markersize": 3, **s.style})
        elif s.kind == "errorbar":
            ax.errorbar(x, y, yerr=s.yerr, label=s.label, **{"marker": "o", "capsize": 4, **s.style})
        elif s.kind == "scatter":
            ax.scatter(x, y, label=s.label, **{"s": 14, **s.style})
        elif s.kind == "bar":
            bars = ax.bar(x, y, label=s.label, **s.style)
            if p.bar_labels:
                ax.bar_label(
                    bars, labels=[f"{v:.3g}" if np.isfinite(v) else "" for v in y], padding=2, fontsize="small"
                )
        elif s.kind == "image":
            _draw_image(ax, p, s)
        else:
            raise ValueError(f"unknown series kind {s.kind!r}")
    for xv, label in p.vlines:
        ax.axvline(xv, color="0.3", linestyle="--", linewidth=1, label=label)
    for yv, label in p.hlines:
        ax.axhline(yv, color="0.3", linestyle=":", linewidth=1.2, label=label)
    if p.symlog_x is not None:
        ax.set_xscale("symlog", linthresh=p.symlog_x)
    if p.hide_yticks:
        ax.set_yticks([])
    if p.logy:
        ax.set_yscale("log")
        if any(s.kind == "bar" for s in p.series):
            ax.margins(y=0.15)
    if p.percent_y:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    if p.ylim:
        ax.set_ylim(*p.ylim)
    if p.yticks is not None:
        ax.set_yticks([t for t, _ in p.yticks], [lab for _, lab in p.yticks])
    if p.xticks is not None:
        ax.set_xticks([t for t, _ in p.xticks], tick_labels([lab for _, lab in p.xticks]))
        if _crowded(ax.get_xticklabels(), ax):
            ax.tick_params(axis="x", labelrotation=30)
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("right")
    elif p.integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    images = any(s.kind == "image" for s in p.series)
    ax.set_title(p.title, fontsize="small" if images and p.xticks is None else None)
    ax.set_xlabel(p.xlabel)
    ax.set_ylabel(p.ylabel)
    if images:
        if p.xticks is None:  # a picture: no axes
            ax.set_axis_off()
    else:
        ax.grid(True, which="major", alpha=0.3)
    if any(s.label for s in p.series) or p.vlines or p.hlines:
        ax.legend(fontsize="small", title=p.legend_title, title_fontsize="small")


def _draw_image(ax, p: Panel, s) -> None:
    style = dict(s.style)
    text = style.pop("cell_text", None)
    values = np.asarray(style.pop("colors", s.y), dtype=float)
    ax.imshow(values, **{"interpolation": "nearest", **style})
    if text is not None:
        lo, hi = style.get("vmin", np.nanmin(values)), style.get("vmax", np.nanmax(values))
        for (i, j), v in np.ndenumerate(values):
            if text[i][j]:
                dark = (v - lo) / ((hi - lo) or 1.0) > 0.55  # white text on a dark cell
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize="small",
                        color="white" if dark else "black")  # fmt: skip


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path
