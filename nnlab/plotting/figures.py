"""The figures, as FigureSpecs built from what a run directory recorded.

Each builder takes a ``Run`` (or several) and returns a ``FigureSpec`` whose
series are the CSV values themselves (no smoothing, no recomputation), or
raises ``SkipFigure`` with a note when the run lacks the data (an
instrument switched off). No matplotlib here; see ``draw``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlab.plotting import evaluation_figures
from nnlab.plotting.spec import FigureSpec, Panel, Series, SkipFigure
from nnlab.results import (
    Group,
    Run,
    format_value,
    mean_std,
)
from nnlab.results import (
    Series as LayerSeries,
)
from nnlab.text import train_label

DELTA_LABEL = "‖δˡ‖ = ‖∂C/∂bˡ‖ (probe-set mean gradient)"
EPOCH_LABEL = "epoch (passes over the training set)"


def _title(run: Run) -> str:
    act = (run.config.get("model") or {}).get("activation")
    return f"{run.name}: {run.architecture}" + (f", {act}" if act else "")


def _hidden(n: int) -> str:
    return f"{n} hidden layer" + ("" if n == 1 else "s")


def _x(run: Run, s: LayerSeries) -> tuple[np.ndarray, bool]:
    """x values of a long-format series: its epochs, or fractional epochs (step / steps per epoch)
    when it has several rows per epoch (``instruments.gradients_every_steps``)."""
    if len(np.unique(s.epochs)) == len(s.epochs):
        return s.epochs.astype(float), True
    spe = run.steps_per_epoch
    if spe:
        return s.steps / spe, False
    return s.steps.astype(float), False


def _layer_series(run: Run, data: dict[int, LayerSeries], layers=None) -> tuple[list[Series], bool]:
    """One line per layer of a long-table quantity (``layers``, or all in order), and whether every x is a
    whole epoch (one row per epoch: integer ticks)."""
    series, whole = [], True
    for l in sorted(data) if layers is None else layers:
        x, w = _x(run, data[l])
        whole &= w
        series.append(Series(run.layer_label(l), x, data[l].values))
    return series, whole


def _no_data(what: str, quantity: str, table: str, switch: str) -> SkipFigure:
    return SkipFigure(f"{what}: skipped, the run has no {quantity} rows in {table} ({switch} off?)")


# --- one run ---------------------------------------------------------------


def speed_of_learning(run: Run) -> FigureSpec:
    """||δ^l|| of each hidden layer against epoch, log y (Nielsen's chapter-5 figure)."""
    data = run.gradients.get("delta_norm", {})
    hidden = [l for l in run.hidden_layers if l in data and len(data[l].values)]
    if not hidden:
        if not run.hidden_layers:
            raise SkipFigure("speed of learning: skipped, the network has no hidden layer")
        raise _no_data("speed of learning", "delta_norm", "gradients.csv", "instruments.gradients")
    series, whole = _layer_series(run, data, hidden)
    n = len(run.hidden_layers)
    panel = Panel(
        title=f"Speed of learning: {_hidden(n)}",
        xlabel=EPOCH_LABEL,
        ylabel=DELTA_LABEL,
        series=series,
        logy=True,
        integer_x=whole,
    )
    return FigureSpec("speed_of_learning", _title(run), [panel], ncols=1, panel_size=(7.0, 4.8))


def gradient_norms(run: Run) -> FigureSpec:
    """Bar charts of ||δ^l|| per layer at initialization and at the end of training (log axis)."""
    data = run.gradients.get("delta_norm", {})
    if not data:
        raise _no_data("gradient norms", "delta_norm", "gradients.csv", "instruments.gradients")
    panels = []
    for at, title in (("initial", "at initialization (epoch 0)"), ("final", "at the end of training")):
        values = run.delta_norms(at)
        if not values:
            continue
        layers = sorted(values)
        if at == "final":
            last = max(int(data[l].epochs[-1]) for l in layers)
            title = f"at the end of training (epoch {last})"
        ticks = [(l, run.layer_label(l, short=True)) for l in layers]
        panels.append(
            Panel(
                title=f"‖δˡ‖ per layer {title}",
                xlabel="layer",
                ylabel=DELTA_LABEL,
                series=[
                    Series(
                        None,
                        np.array(layers, dtype=float),
                        np.array([values[l] for l in layers]),
                        kind="bar",
                        style={"color": "C0" if at == "initial" else "C1"},
                    )
                ],
                logy=True,
                xticks=ticks,
                bar_labels=True,
            )
        )
    if not panels:
        raise _no_data("gradient norms", "delta_norm", "gradients.csv", "instruments.gradients")
    return FigureSpec("gradient_norms", _title(run), panels, ncols=len(panels), sharey=len(panels) > 1)


def accuracy(run: Run) -> FigureSpec:
    """Training, validation and test accuracy and loss against epoch, with the best epoch marked."""
    ep = run.metrics.get("epoch")
    if ep is None or len(ep) == 0:
        raise SkipFigure("accuracy: skipped, metrics.csv has no rows")
    best = run.best_epoch()
    best_acc = run.metric_at("validation_accuracy", best)
    vlines = []
    if best is not None:
        vlines = [
            (float(best), f"best epoch {best}" + (f" (validation {best_acc:.2%})" if best_acc is not None else ""))
        ]
    panels = []
    for kind, ylabel, pct in (
        ("accuracy", "accuracy (% classified correctly)", True),
        ("loss", "loss (mean cost per example + L2 term)", False),
    ):
        series = [
            Series(train_label(run.train_metrics) if name == "train" else name, ep, run.metrics[f"{name}_{kind}"])
            for name in ("train", "validation", "test")
            if run.has_metric(f"{name}_{kind}")
        ]
        if not series:
            continue
        if kind == "accuracy" and best is not None:
            acc = run.metric_at("validation_accuracy", best)
            if acc is not None:
                series.append(
                    Series(
                        None,
                        np.array([float(best)]),
                        np.array([acc]),
                        kind="scatter",
                        style={"color": "black", "zorder": 5, "marker": "*", "s": 120},
                    )
                )
        vals = np.concatenate([s.y for s in series])
        vals = vals[np.isfinite(vals)]
        panels.append(
            Panel(
                title=kind.capitalize() if kind == "loss" else "Accuracy",
                xlabel=EPOCH_LABEL,
                ylabel=ylabel,
                series=series,
                percent_y=pct,
                logy=(kind == "loss" and len(vals) > 0 and bool(np.all(vals > 0))),
                integer_x=True,
                vlines=vlines,
            )
        )
    if not panels:
        raise SkipFigure("accuracy: skipped, metrics.csv has no accuracy or loss values")
    return FigureSpec("accuracy", _title(run), panels)


HEALTH = {
    "saturated_fraction": ("Saturated units", "saturated fraction (f′(z) < 1% of its max)"),
    "dead_fraction": ("Dead units", "dead fraction (f′(z) = 0 on every probe example)"),
}


def activation_health(run: Run) -> FigureSpec:
    """Saturated (sigmoid/tanh-like) or dead (ReLU-like) fraction of each layer's units against epoch."""
    panels = []
    for q, (title, ylabel) in HEALTH.items():
        data = run.activations.get(q, {})
        if not data:
            continue
        series, whole = _layer_series(run, data)
        panels.append(
            Panel(
                f"{title} per layer", EPOCH_LABEL, ylabel, series, percent_y=True, ylim=(-0.02, 1.02), integer_x=whole
            )
        )
    if not panels:
        raise _no_data(
            "activation health", "saturated_fraction/dead_fraction", "activations.csv", "instruments.activations"
        )
    return FigureSpec("activation_health", _title(run), panels)


def update_ratio(run: Run) -> FigureSpec:
    """||ΔW^l|| / ||W^l|| per layer against epoch (log y)."""
    data = run.gradients.get("update_ratio", {})
    if not data:
        raise _no_data("update ratio", "update_ratio", "gradients.csv", "instruments.batch_stats")
    series, whole = _layer_series(run, data)
    panel = Panel(
        "Update-to-weight ratio per layer",
        EPOCH_LABEL,
        "‖ΔWˡ‖ / ‖Wˡ‖ per step (epoch mean, dimensionless)",
        series,
        logy=True,
        integer_x=whole,
    )
    return FigureSpec("update_ratio", _title(run), [panel], ncols=1, panel_size=(7.0, 4.8))


def _epoch_picks(epochs: Sequence[int], most: int) -> list[int]:
    """At most ``most`` of the recorded epochs, evenly spread, the first and last always in."""
    epochs = sorted(set(int(e) for e in epochs))
    if len(epochs) <= most:
        return epochs
    idx = np.unique(np.round(np.linspace(0, len(epochs) - 1, most)).astype(int))
    return [epochs[i] for i in idx]


def _at_epoch_ends(series: LayerSeries) -> dict[int, float]:
    """epoch -> the value recorded at that epoch's end (the last row of each epoch)."""
    return {int(e): float(v) for e, v in zip(series.epochs, series.values)}


def gradient_flow(run: Run) -> FigureSpec:
    """Mean and largest |∂C/∂W^l_jk| of each layer (x: the layers), one line per epoch, log y."""
    mean, top = run.gradients.get("grad_abs_mean", {}), run.gradients.get("grad_abs_max", {})
    if not mean:  # gradients off (the speed-of-learning figure says so), or a run from before these rows
        raise SkipFigure("gradient flow: no grad_abs_mean rows", silent=True)
    layers = sorted(mean)
    picks = _epoch_picks([e for l in layers for e in mean[l].epochs], 6)
    series = []
    for i, e in enumerate(picks):
        for data, what, style in ((mean, "mean", "-"), (top, "max", "--")):
            if not data:
                continue
            at = [_at_epoch_ends(data[l]).get(e, np.nan) for l in layers]
            label = f"epoch {e}, {what}"
            series.append(
                Series(label, np.array(layers, float), np.array(at), style={"color": f"C{i}", "linestyle": style})
            )
    panel = Panel(
        "Gradient flow: |∂C/∂Wˡ| per layer, mean (solid) and max (dashed)",
        "layer",
        "|∂C/∂W| on the probe set (log scale: each gridline a factor of 10)",
        series,
        logy=True,
        xticks=[(l, run.layer_label(l, short=True)) for l in layers],
        legend_title="epoch",
    )
    return FigureSpec("gradient_flow", _title(run), [panel], ncols=1, panel_size=(7.5, 5.0))


def distance_from_init(run: Run) -> FigureSpec:
    """||W^l - W^l_0|| / ||W^l_0|| and the update size ||ΔW^l|| per layer against epoch (log y)."""
    panels = []
    for q, title, ylabel in (
        ("distance_rel", "Distance from initialization", "‖Wˡ − Wˡ₀‖ / ‖Wˡ₀‖ (log scale)"),
        ("update_size", "Update size (one step)", "‖ΔWˡ‖ of the epoch's last step (log scale)"),
    ):
        data = run.gradients.get(q, {})
        if not data:
            continue
        series, whole = _layer_series(run, data)
        panels.append(Panel(title, EPOCH_LABEL, ylabel, series, logy=True, integer_x=whole))
    if not panels:
        if (run.config.get("instruments") or {}).get("distance") is not True:  # off, or a run from before it
            raise SkipFigure("distance from initialization: instruments.distance is off", silent=True)
        raise _no_data("distance from initialization", "distance_rel", "gradients.csv", "instruments.distance")
    return FigureSpec("distance_from_init", _title(run), panels)


def gradient_noise(run: Run) -> FigureSpec:
    """Gradient signal-to-noise ratio and the norm test per layer against epoch (log y)."""
    batch = (run.config.get("training") or {}).get("batch_size")
    panels = []
    for q, title, ylabel, line in (
        ("grad_snr", "Gradient signal-to-noise ratio", "mean over parameters of ḡ²/σ² (log scale)", None),
        (
            "norm_test",
            "Norm test",
            f"Σσ² / (B‖ḡ‖²), B = {batch} (log scale)",
            (1.0, "1: noise as large as the gradient"),
        ),
    ):
        data = run.gradients.get(q, {})
        if not data:
            continue
        series, whole = _layer_series(run, data)
        panels.append(
            Panel(title, EPOCH_LABEL, ylabel, series, logy=True, integer_x=whole, hlines=[line] if line else [])
        )
    if not panels:
        raise SkipFigure("gradient noise: instruments.per_sample is off", silent=True)
    return FigureSpec("gradient_noise", _title(run), panels)


def hessian_eigenvalue(run: Run) -> FigureSpec:
    """The Hessian's largest eigenvalue against epoch, with the stability bound 2/η of each epoch."""
    data = run.curvature.get("hessian_max_eig", {}).get(0)
    if data is None or not len(data.values):
        raise SkipFigure("Hessian eigenvalue: instruments.hessian is off", silent=True)
    x, whole = _x(run, data)
    series = [Series("λ_max (largest Hessian eigenvalue)", x, data.values)]
    lr = run.metrics.get("lr")
    if lr is not None and np.any(lr > 0):
        ep = run.metrics["epoch"]
        ok = lr > 0
        series.append(
            Series(
                "2/η (gradient-descent stability bound)", ep[ok], 2.0 / lr[ok], style={"color": "0.3", "linestyle": ":"}
            )
        )
    values = np.concatenate([s.y[np.isfinite(s.y)] for s in series])
    logy = bool(values.size and values.min() > 0 and values.max() / values.min() > 30)
    panel = Panel(
        "Sharpness: λ_max against 2/η",
        EPOCH_LABEL,
        "eigenvalue of ∇²C (same units as 1/η)" + (" (log scale)" if logy else ""),
        series,
        logy=logy,
        integer_x=whole,
    )
    return FigureSpec("hessian_eigenvalue", _title(run), [panel], ncols=1, panel_size=(7.0, 4.8))


HISTOGRAM_TITLES = {"weights": "weights Wˡ", "gradients": "probe gradients ∂C/∂Wˡ", "z": "pre-activations zˡ"}


def _ridge_panels(run: Run, hist: dict, q: str) -> list[Panel]:
    panels = []
    for (quantity, l), edges in sorted(hist["edges"].items()):
        if quantity != q:
            continue
        counts = hist["counts"][(q, l)]
        epochs = hist["epochs"]
        at_end = {int(e): i for i, e in enumerate(epochs)}  # the last record of each epoch
        picks = _epoch_picks(list(at_end), 12)
        if q == "gradients":
            centers = np.sign(edges[:-1] + edges[1:]) * np.sqrt(np.abs(edges[:-1] * edges[1:]))
            centers[len(centers) // 2] = 0.0  # the bin around 0
            lin = float(np.abs(edges).min())
        else:
            centers, lin = (edges[:-1] + edges[1:]) / 2, None
        series = []
        for k, e in enumerate(picks):
            c = counts[at_end[e]].astype(float)
            y = k + 0.9 * c / c.max() if c.max() > 0 else np.full(len(c), float(k))
            label = f"epoch {e}" if k in (0, len(picks) - 1) else None
            color = (0.1 + 0.8 * k / max(len(picks) - 1, 1), 0.3, 0.9 - 0.8 * k / max(len(picks) - 1, 1))
            series.append(Series(label, centers, y, style={"color": color, "marker": None, "linewidth": 1.2}))
        ticks = None
        if lin:  # a few decades a side, labelled: matplotlib's own symlog ticks crowd into each other
            ks = list(range(math.ceil(math.log10(lin)), math.floor(math.log10(float(edges[-1]))) + 1))
            ks = ks[::-1][:: max(1, math.ceil(len(ks) / 3))]
            ticks = [(-(10.0**k), f"−1e{k}") for k in ks] + [(0.0, "0")] + [(10.0**k, f"1e{k}") for k in ks[::-1]]
        xlabel = HISTOGRAM_TITLES[q].split(" ")[-1] + (" (symmetric log scale)" if lin else "")
        panels.append(
            Panel(
                f"{run.layer_label(l)}: {HISTOGRAM_TITLES[q]}",
                xlabel,
                "epoch (one histogram per row, oldest at the bottom)",
                series,
                symlog_x=lin,
                hide_yticks=True,
                xticks=ticks,
            )
        )
    return panels


def histogram_ridges(run: Run) -> FigureSpec:
    """Per layer, the histograms of W, ∂C/∂W and z over epochs, stacked (ridge plot)."""
    hist = run.histograms()
    if hist is None:
        raise SkipFigure("histograms: instruments.histograms is off", silent=True)
    panels = [p for q in ("weights", "gradients", "z") for p in _ridge_panels(run, hist, q)]
    n = len({l for _, l in hist["edges"]})
    return FigureSpec("histograms", _title(run), panels, ncols=n, panel_size=(4.2, 4.2))


RUN_FIGURES: dict[str, Callable[[Run], FigureSpec]] = {
    "speed_of_learning": speed_of_learning,
    "gradient_norms": gradient_norms,
    "accuracy": accuracy,
    "activation_health": activation_health,
    "update_ratio": update_ratio,
    "gradient_flow": gradient_flow,
    "distance_from_init": distance_from_init,
    "gradient_noise": gradient_noise,
    "hessian_eigenvalue": hessian_eigenvalue,
    "histograms": histogram_ridges,
    # a saved evaluation (nnlab evaluate RUN): nnlab.plotting.evaluation_figures
    "confusion_matrix": evaluation_figures.confusion_matrix,
    "misclassified": evaluation_figures.misclassified,
}


# --- several runs: one configuration = runs that differ only in seed (nnlab.results.group) ----


def _xlabel(keys: Sequence[str]) -> str:
    if not keys:
        return "configuration"
    if list(keys) == ["model.sizes"]:
        return "model.sizes (layer sizes, input to output)"
    return ", ".join(keys)


def _ordered(values: Sequence[Any]) -> bool:
    """Values a line may join: numbers, or lists of numbers (model.sizes: deeper to the right)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) or all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in values
    )


def _accuracy_series(part: str, x: np.ndarray, groups: Sequence[Group], label: str, style: dict) -> list[Series]:
    """mean ± std of ``part`` validation accuracy per group at x, and each run as a faint dot."""
    stats = [mean_std([r.result(part, "validation_accuracy") for r in g.runs]) for g in groups]
    mean = Series(
        label, x, np.array([s[0] for s in stats]), kind="errorbar", yerr=np.array([s[1] for s in stats]), style=style
    )
    px = [xi for xi, g in zip(x, groups) for _ in g.runs]
    py = [r.result(part, "validation_accuracy") for g in groups for r in g.runs]
    dots = Series(
        None,
        np.array(px, dtype=float),
        np.array([np.nan if v is None else v for v in py], dtype=float),
        kind="scatter",
        style={"color": style.get("color"), "alpha": 0.35},
    )
    return [mean, dots]


def compare_accuracy(keys: Sequence[str], groups: Sequence[Group]) -> FigureSpec:
    """Final and best validation accuracy per configuration: mean ± std over seeds, each run as a dot.

    One key: the configurations along x, joined by a line only when the key's
    values are ordered (numbers, layer sizes). Two keys crossed (the second
    varies at some value of the first): the first along x and one line per
    value of the second, a panel each for final and best. Otherwise: the
    configurations along x, unjoined.
    """
    if not groups:
        raise SkipFigure("accuracy comparison: skipped, no finished runs")
    n = sorted({len(g.runs) for g in groups})
    seeds = f"{n[0]}" if len(n) == 1 else f"{n[0]}-{n[-1]}"
    per = f"({seeds} run{'s' if n[-1] > 1 else ''} per configuration)"
    ylabel = "validation accuracy (% classified correctly)"
    grid = _grid(keys, groups)
    if grid is not None:
        xs, lines = grid
        joined = _ordered(xs)
        panels = []
        for part in ("final", "best"):
            series = []
            for i, (value, row) in enumerate(lines):
                at = np.array(sorted(row), dtype=float) + 0.06 * (i - (len(lines) - 1) / 2)
                style = {"color": f"C{i % 10}", "linestyle": "-" if joined else "none"}
                series += _accuracy_series(part, at, [row[j] for j in sorted(row)], format_value(keys[1], value), style)
            panels.append(
                Panel(
                    title=f"{part.capitalize()} validation accuracy {per}",
                    xlabel=_xlabel(keys[:1]),
                    ylabel=ylabel,
                    series=series,
                    percent_y=True,
                    xticks=[(i, format_value(keys[0], x)) for i, x in enumerate(xs)],
                    legend_title=keys[1],
                )
            )
        width = max(6.4, 1.1 * len(xs) + 2)
        return FigureSpec("compare_accuracy", None, panels, ncols=2, sharey=True, panel_size=(width, 4.8))
    x = np.arange(len(groups), dtype=float)
    joined = len(keys) == 1 and _ordered([g.point[keys[0]] for g in groups])
    series = []
    for part, color in (("final", "C0"), ("best", "C1")):
        dx = -0.08 if part == "final" else 0.08
        style = {"color": color, "linestyle": "-" if joined else "none"}
        series += _accuracy_series(part, x + dx, groups, f"{part} validation (mean ± std)", style)
    panel = Panel(
        title=f"Validation accuracy {per}",
        xlabel=_xlabel(keys),
        ylabel=ylabel,
        series=series,
        percent_y=True,
        xticks=[(xi, g.label) for xi, g in zip(x, groups)],
    )
    return FigureSpec("compare_accuracy", None, [panel], ncols=1, panel_size=(max(6.4, 1.3 * len(groups) + 2), 4.8))


def _grid(keys: Sequence[str], groups: Sequence[Group]) -> tuple[list[Any], list[tuple[Any, dict[int, Group]]]] | None:
    """Two keys: (values of the first, first-seen order; per value of the second, {index along x: group}), or None."""
    if len(keys) != 2 or len(groups) < 2:
        return None

    def key(v: Any) -> str:
        return json.dumps(v, sort_keys=True, default=str)

    xs: dict[str, Any] = {}
    lines: dict[str, tuple[Any, dict[int, Group]]] = {}
    for g in groups:
        a, b = g.point.get(keys[0]), g.point.get(keys[1])
        xs.setdefault(key(a), a)
        lines.setdefault(key(b), (b, {}))[1][list(xs).index(key(a))] = g
    if len(lines) < 2 or len(xs) < 2:
        return None
    per_x = [sum(i in row for _, row in lines.values()) for i in range(len(xs))]
    if max(per_x) < 2:  # the second key never varies at a fixed first one (R4: epochs follow depth): no grid
        return None
    return list(xs.values()), list(lines.values())


def compare_initial_delta(keys: Sequence[str], groups: Sequence[Group]) -> FigureSpec:
    """Initial ||δ^l|| of each hidden layer, one line per configuration (mean ± std over seeds), log y."""
    series = []
    for g in groups:
        per_layer: dict[int, list[float]] = {}
        for r in g.runs:
            for l, v in r.delta_norms("initial").items():
                if l < r.n_layers:
                    per_layer.setdefault(l, []).append(v)
        if not per_layer:
            continue
        layers = sorted(per_layer)
        stats = [mean_std(per_layer[l]) for l in layers]
        series.append(
            Series(
                g.label,
                np.array(layers, dtype=float),
                np.array([s[0] for s in stats]),
                kind="errorbar",
                yerr=np.array([s[1] for s in stats]),
            )
        )
    if not series:
        raise _no_data(
            "initial gradient comparison",
            "delta_norm at step 0 (hidden layers)",
            "gradients.csv",
            "instruments.gradients",
        )
    top = int(max(s.x.max() for s in series))
    panel = Panel(
        title="‖δˡ‖ at initialization, per hidden layer",
        xlabel="hidden layer l (1 = next to the input)",
        ylabel=DELTA_LABEL,
        series=series,
        logy=True,
        xticks=[(l, str(l)) for l in range(1, top + 1)],
        legend_title=_xlabel(keys) if keys else None,
    )
    return FigureSpec("compare_initial_delta", None, [panel], ncols=1, panel_size=(7.0, 4.8))


def _per_epoch_mean(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The mean over runs at each epoch all of them reached; each run's (epochs, values), last value per epoch."""
    tables = [dict(zip(e.astype(int).tolist(), v.tolist())) for e, v in pairs]
    common = sorted(set.intersection(*(set(t) for t in tables))) if tables else []
    return np.array(common, dtype=float), np.array([np.nanmean([t[e] for t in tables]) for e in common])


def _curve_label(g: Group) -> str:
    return g.label + (f" (mean of {len(g.runs)})" if len(g.runs) > 1 else "")


def overlay_accuracy(keys: Sequence[str], groups: Sequence[Group]) -> FigureSpec:
    """Validation accuracy and loss against epoch, one line per configuration (the mean over its seeds)."""
    panels = []
    for column, title, percent in (
        ("validation_accuracy", "Validation accuracy", True),
        ("validation_loss", "Validation loss (the configured cost, L2 included)", False),
    ):
        series = []
        for g in groups:
            pairs = [(r.epochs, r.metrics[column]) for r in g.runs if r.has_metric(column)]
            if pairs:
                x, y = _per_epoch_mean(pairs)
                series.append(Series(_curve_label(g), x, y))
        if series:
            panels.append(
                Panel(
                    title=title,
                    xlabel=EPOCH_LABEL,
                    ylabel="% classified correctly" if percent else "loss",
                    series=series,
                    percent_y=percent,
                    integer_x=True,
                    legend_title=_xlabel(keys) if keys else None,
                )
            )
    if not panels:
        raise SkipFigure("accuracy curves: skipped, the runs have no validation metrics")
    return FigureSpec("overlay_accuracy", "Learning curves by configuration", panels, ncols=2, panel_size=(6.4, 4.6))


def overlay_speed_of_learning(keys: Sequence[str], groups: Sequence[Group]) -> FigureSpec:
    """‖δˡ‖ against epoch, one panel per hidden layer l, one line per configuration; one shared log axis."""
    layers = sorted({l for g in groups for r in g.runs for l in r.hidden_layers})
    panels = []
    for l in layers:
        series, title = [], None
        for g in groups:
            data = [r.gradients.get("delta_norm", {}).get(l) for r in g.runs if l in r.hidden_layers]
            data = [d for d in data if d is not None and len(d.values)]
            if data:
                x, y = _per_epoch_mean([(d.epochs, d.values) for d in data])
                series.append(Series(_curve_label(g), x, y))
                title = title or g.runs[0].layer_label(l)
        if series:
            panels.append(
                Panel(
                    title=f"{title} (l = {l})",
                    xlabel=EPOCH_LABEL,
                    ylabel=DELTA_LABEL + ", log scale",
                    series=series,
                    logy=True,
                    integer_x=True,
                    legend_title=_xlabel(keys) if keys else None,
                )
            )
    if not panels:
        raise _no_data("speed of learning by configuration", "delta_norm", "gradients.csv", "instruments.gradients")
    return FigureSpec(
        "overlay_speed_of_learning",
        "Speed of learning by configuration: each hidden layer's ‖δˡ‖ (same log scale in every panel)",
        panels,
        ncols=2 if len(panels) == 4 else min(len(panels), 3),  # 2x2 rather than 3 + 1
        sharey=True,
        panel_size=(5.2, 4.2),
    )


COMPARE_FIGURES = {
    "compare_accuracy": compare_accuracy,
    "compare_initial_delta": compare_initial_delta,
    "overlay_accuracy": overlay_accuracy,
    "overlay_speed_of_learning": overlay_speed_of_learning,
}


# --- the activation functions (teaching figure) ---------------------------------


def activation_functions(z_min: float = -5.0, z_max: float = 5.0, n: int = 401) -> FigureSpec:
    """Every activation in the engine's registry (softmax aside): f(z) and f′(z), from the engine's own code."""
    from nnlab.activations import ACTIVATIONS, make_activation

    z = np.linspace(z_min, z_max, n)
    panels = []
    for name in ACTIVATIONS.names():
        if name == "softmax":  # no elementwise f′: the cost computes δ^L
            continue
        act = make_activation(name)
        act.init_params(n, z.dtype)  # PReLU binds its slope per unit (its initial value)
        zz = z[None, :].copy()  # batch-first, one example of n units
        a = act.f(zz)
        d = act.df(zz, a)
        hp = ", ".join(f"{k}={v:g}" for k, v in act.hyperparams().items())
        panels.append(
            Panel(
                title=name + (f" ({hp})" if hp else ""),
                xlabel="z",
                ylabel="f(z), f′(z)" if len(panels) % 4 == 0 else "",
                series=[
                    Series("f(z)", z, np.asarray(a, dtype=float)[0]),
                    Series("f′(z)", z, np.asarray(d, dtype=float)[0], style={"linestyle": "--"}),
                ],
            )
        )
    return FigureSpec(
        "activations",
        "Activation functions f and their derivatives f′ (nnlab.activations)",
        panels,
        ncols=4,
        panel_size=(3.6, 2.8),
        layout="grid",
    )
