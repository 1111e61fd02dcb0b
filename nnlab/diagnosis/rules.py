"""The diagnosis rules: one function each, registered with ``@rule``; thresholds in ``base.THRESHOLDS``.

Each reads only what the run directory holds (``nnlab.results.Run``), so it
works on a finished run, on an old one, and live on the rows recorded so far.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from nnlab.diagnosis.base import Finding, rule, threshold
from nnlab.results import Run, Series

# --- what the rules read ----------------------------------------------------------


def _reaches(x: float, name: str) -> bool:
    """``x`` at or above the threshold ``name`` (accuracies are fractions k/n: 1.0 - 0.9 must reach 0.1)."""
    return x >= threshold(name) - 1e-9


def _hidden_groups(run: Run) -> list[list[int]]:
    """The hidden layers (1..L-1) with weights, grouped by kind in order (conv layers, then dense layers):
    ||δ|| of a conv layer sums over positions and is not on the scale of a dense layer's."""
    groups: dict[str, list[int]] = {}
    for layer in run.hidden_layers:
        groups.setdefault(run.layer_kind(layer), []).append(layer)
    return list(groups.values())


def _aligned(first: Series, last: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, epochs, ||δ^first||, ||δ^last||) at the steps both layers were measured with finite, non-zero values."""
    steps, i_first, i_last = np.intersect1d(first.steps, last.steps, return_indices=True)
    v_first, v_last = first.values[i_first], last.values[i_last]
    ok = np.isfinite(v_first) & np.isfinite(v_last) & (v_first > 0) & (v_last > 0)
    return steps[ok], first.epochs[i_first][ok], v_first[ok], v_last[ok]


def _layer_pairs(run: Run) -> list[tuple[int, int, tuple[np.ndarray, ...]]]:
    """(first, last, ``_aligned`` ||δ|| of the two) for each kind of hidden layer that has two or more."""
    deltas = run.gradients.get("delta_norm", {})
    out = []
    for group in _hidden_groups(run):
        first, last = group[0], group[-1]
        if first == last or first not in deltas or last not in deltas:
            continue
        aligned = _aligned(deltas[first], deltas[last])
        if len(aligned[0]):
            out.append((first, last, aligned))
    return out


def _n_classes(run: Run) -> int:
    if run.sizes:
        return int(run.sizes[-1])
    layers = run.model_layers or []
    units = layers[-1].get("units") if layers else None
    return int(units) if units else 10


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _x(factor: float) -> str:
    """A factor as people say it: 97x, 4.2x, 1.2e+03x."""
    return f"{factor:.0f}x" if 10 <= factor < 1e4 else f"{factor:.2g}x"


def _last_fraction(run: Run, quantity: str) -> dict[int, tuple[float, int]]:
    """Hidden layer -> (value, epoch) of ``quantity`` (activations.csv) at its last finite measurement."""
    out = {}
    for layer, s in run.activations.get(quantity, {}).items():
        if layer not in run.hidden_layers:
            continue
        ok = np.flatnonzero(np.isfinite(s.values))
        if len(ok):
            out[layer] = (float(s.values[ok[-1]]), int(s.epochs[ok[-1]]))
    return out


def _over_share(
    run: Run, quantity: str, share: str, dense_only: bool = False
) -> tuple[dict[int, float], int, dict[str, Any]] | None:
    """The hidden layers whose last ``quantity`` reaches the threshold ``share`` (``dense_only``: dense layers):
    ({layer: value}, the latest of their epochs, the finding's evidence); None when there are none."""
    last = _last_fraction(run, quantity)
    bad = {l: v for l, v in last.items() if _reaches(v[0], share) and (not dense_only or run.layer_kind(l) == "dense")}
    if not bad:
        return None
    epoch = max(e for _, e in bad.values())
    values = {l: v for l, (v, _) in bad.items()}
    return (
        values,
        epoch,
        {quantity: {str(l): v for l, v in values.items()}, "epoch": epoch, "threshold": threshold(share)},
    )


def _lr(run: Run) -> float | None:
    lr = (run.config.get("optimizer") or {}).get("learning_rate")
    return float(lr) if isinstance(lr, (int, float)) else None


def _smaller_lr(run: Run) -> str:
    lr = _lr(run)
    return (
        f"--set optimizer.learning_rate={lr / 10:g} (a tenth of {lr:g})" if lr else "a smaller optimizer.learning_rate"
    )


def _when(step: int, epoch: int) -> str:
    return "at initialization" if step == 0 else f"at epoch {epoch}"


def _layer_ratio(run: Run, upward: bool) -> tuple | None:
    """The worst (first, last, factor, where, ||δ^first||, ||δ^last||) over the hidden kinds, where factor is
    ||δ^last|| / ||δ^first|| (``upward``: the gradient shrinks toward the input) or its inverse, read at the
    first probe measurement (initialization) and at the last; None when no kind has two hidden layers."""
    worst = None
    for first, last, (steps, epochs, v_first, v_last) in _layer_pairs(run):
        for i in sorted({0, len(steps) - 1}):
            r = v_last[i] / v_first[i]
            factor = float(r if upward else 1.0 / r)
            if worst is None or factor > worst[2]:
                when = _when(int(steps[i]), int(epochs[i]))
                worst = (first, last, factor, when, float(v_first[i]), float(v_last[i]))
    return worst


# --- the rules ----------------------------------------------------------------------


@rule("vanishing_gradient")
def vanishing_gradient(run: Run) -> Finding | None:
    """The earliest hidden layer's ||δ|| far below the last hidden layer's: it learns that much slower."""
    worst = _layer_ratio(run, upward=True)
    if worst is None or not _reaches(worst[2], "vanishing_factor"):
        return None
    first, last, factor, when, v_first, v_last = worst
    message = (
        f"{run.layer_label(first)} learns {_x(factor)} slower than {run.layer_label(last)} {when} "
        f"(||δ^{first}|| {_fmt(v_first)} against ||δ^{last}|| {_fmt(v_last)} on the probe set)"
    )
    return Finding(
        "vanishing_gradient",
        "warning",
        message,
        evidence={
            "first_layer": first,
            "last_layer": last,
            "ratio": factor,
            "when": when,
            "delta_first": v_first,
            "delta_last": v_last,
            "threshold": threshold("vanishing_factor"),
        },
        remedies=[
            "--set model.activation=relu (a rectifier's slope is 1, a sigmoid's at most 1/4)",
            "fewer hidden layers (model.sizes)",
            "an optimizer that scales each layer's step: --set optimizer.name=adam --set optimizer.learning_rate=0.001",
        ],
    )


@rule("exploding_gradient")
def exploding_gradient(run: Run) -> Finding | None:
    """||δ|| growing toward the input (earliest hidden layer far above the last) or growing during training."""
    across = _layer_ratio(run, upward=False)
    if across is not None and not _reaches(across[2], "exploding_factor"):
        across = None
    growth = None
    for layer, s in run.gradients.get("delta_norm", {}).items():
        v = s.values[np.isfinite(s.values)]
        if len(v) > 1 and v[0] > 0:
            g = float(v.max() / v[0])
            if _reaches(g, "exploding_growth") and (growth is None or g > growth[1]):
                growth = (layer, g, float(v[0]), float(v.max()))
    if across is None and growth is None:
        return None
    parts, evidence = [], {}
    if across is not None:
        first, last, factor, when, v_first, v_last = across
        parts.append(
            f"{run.layer_label(first)}'s ||δ|| is {_x(factor)} {run.layer_label(last)}'s {when} "
            f"({_fmt(v_first)} against {_fmt(v_last)} on the probe set)"
        )
        evidence.update(
            first_layer=first, last_layer=last, ratio=factor, when=when, threshold=threshold("exploding_factor")
        )
    if growth is not None:
        layer, g, v0, vmax = growth
        parts.append(f"{run.layer_label(layer)}'s ||δ|| grew {_x(g)} during training ({_fmt(v0)} to {_fmt(vmax)})")
        evidence.update(growth_layer=layer, growth=g, growth_threshold=threshold("exploding_growth"))
    return Finding(
        "exploding_gradient",
        "warning",
        "; ".join(parts),
        evidence=evidence,
        remedies=[
            "--set regularization.clip_norm=1.0 (clip the gradient's global norm)",
            "--set model.init.weights=he (ReLU) or nielsen (sigmoid): smaller initial weights",
            _smaller_lr(run),
        ],
    )


@rule("dead_units")
def dead_units(run: Run) -> Finding | None:
    """A large share of a rectifier dense layer's units output 0 (slope 0) on every probe example: they no longer learn.

    Dense layers only: in a conv layer a unit is one filter at one position, and positions over an image's
    empty border are 0 for every example while the filter learns elsewhere (a healthy conv ReLU net shows ~50%).
    """
    over = _over_share(run, "dead_fraction", "dead_share", dense_only=True)
    if over is None:
        return None
    bad, epoch, evidence = over
    said = ", ".join(f"{100 * v:.0f}% of {run.layer_label(l)}'s units" for l, v in bad.items())
    return Finding(
        "dead_units",
        "warning",
        f"{said} are dead (output 0 on every probe example, so no gradient) at epoch {epoch}",
        evidence=evidence,
        remedies=[
            _smaller_lr(run),
            "--set model.activation=leaky_relu (a small slope below 0 keeps units alive)",
            "--set regularization.clip_norm=1.0",
        ],
    )


@rule("saturated_units")
def saturated_units(run: Run) -> Finding | None:
    """A large share of a sigmoid/tanh hidden layer's outputs sit where the slope is nearly 0."""
    over = _over_share(run, "saturated_fraction", "saturated_share")
    if over is None:
        return None
    bad, epoch, evidence = over
    said = ", ".join(f"{100 * v:.0f}% of {run.layer_label(l)}'s" for l, v in bad.items())
    return Finding(
        "saturated_units",
        "warning",
        f"{said} outputs on the probe set are saturated at epoch {epoch} (slope below 1% of its largest);"
        " a saturated unit passes almost no gradient back",
        evidence=evidence,
        remedies=[
            "--set model.init.weights=nielsen (weights N(0, 1/n_in): z starts near 0, where the slope is largest)",
            "--set model.activation=relu",
        ],
    )


@rule("learning_stalled")
def learning_stalled(run: Run) -> Finding | None:
    """After a few epochs the accuracy is still near chance: the net has not started to learn."""
    ep, acc = run.metrics.get("epoch"), run.metrics.get("validation_accuracy")
    name = "validation"
    if acc is None or not np.any(np.isfinite(acc)):
        ep, acc, name = run.metrics.get("epoch"), run.metrics.get("train_accuracy"), "train (probe)"
    if ep is None or acc is None:
        return None
    ok = np.flatnonzero(np.isfinite(acc) & (ep >= 1))
    if not len(ok):
        return None
    epoch, value = int(ep[ok[-1]]), float(acc[ok[-1]])
    n = _n_classes(run)
    chance = 1.0 / n
    if epoch < threshold("stalled_epochs") or value > threshold("stalled_margin") * chance + 1e-9:
        return None
    best = float(np.max(acc[ok]))
    return Finding(
        "learning_stalled",
        "error",
        f"{name} accuracy {100 * value:.1f}% after {epoch} epochs (best {100 * best:.1f}%), near chance "
        f"({100 * chance:.0f}% for {n} classes)",
        evidence={"epoch": epoch, "accuracy": value, "best": best, "chance": chance, "measured_on": name},
        remedies=["the other findings say why", _smaller_lr(run)],
    )


_WHERE = re.compile(r"epoch (\d+) \(step (\d+)\)")


@rule("divergence")
def divergence(run: Run) -> Finding | None:
    """The loss became NaN or infinite: when, where, the likely cause and the remedies."""
    if run.status != "diverged":
        return None
    info = dict((run.summary or {}).get("divergence") or {})
    error = info.get("message") or run.meta.get("error") or ""
    m = _WHERE.search(error)
    epoch = info.get("epoch") if info.get("epoch") is not None else (int(m.group(1)) if m else None)
    step = info.get("step") if info.get("step") is not None else (int(m.group(2)) if m else None)
    param = info.get("layer")
    where = ""
    if param and re.fullmatch(r"[A-Za-z]+\d+", str(param)):
        layer = int(re.sub(r"\D", "", str(param)))
        where = f" in {run.layer_label(layer)} ({param})"
    explode = exploding_gradient(run)
    if explode is not None:
        cause = f"exploding gradients: {explode.message}"
    else:
        lr = _lr(run)
        cause = f"steps too large for this net (learning rate {lr:g})" if lr else "steps too large for this net"
    clip = (run.config.get("regularization") or {}).get("clip_norm")
    remedies = [_smaller_lr(run)]
    remedies.insert(
        0, f"--set regularization.clip_norm={clip / 10:g}" if clip else "--set regularization.clip_norm=1.0"
    )
    when = f"epoch {epoch}" + (f", step {step}" if step is not None else "") if epoch is not None else "training"
    return Finding(
        "divergence",
        "error",
        f"the loss became NaN/inf in {when}{where}; likely cause: {cause}",
        evidence={"epoch": epoch, "step": step, "parameter": param, "error": error, "cause": cause},
        remedies=remedies,
    )


@rule("overfitting")
def overfitting(run: Run) -> Finding | None:
    """Train (probe) accuracy well above validation accuracy, and for several epochs: the net memorizes."""
    ep, tr, va = (run.metrics.get(k) for k in ("epoch", "train_accuracy", "validation_accuracy"))
    if ep is None or tr is None or va is None:
        return None
    ok = np.flatnonzero(np.isfinite(tr) & np.isfinite(va) & (ep >= 1))
    window = int(threshold("overfit_window"))
    if len(ok) < window:
        return None
    gaps = tr[ok] - va[ok]
    gap = float(gaps[-1])
    if not (_reaches(gap, "overfit_gap") and _reaches(float(np.median(gaps[-window:])), "overfit_gap")):
        return None
    epoch = int(ep[ok[-1]])
    k = max(0, len(gaps) - 1 - window)
    before, since = float(gaps[k]), int(ep[ok[k]])
    trend = "widening" if gap > before + 0.01 else "closing" if gap < before - 0.01 else "steady"
    best_i = int(np.argmax(va[ok]))
    best_note = (
        f"; validation best {100 * va[ok][best_i]:.1f}% at epoch {int(ep[ok][best_i])}"
        if not math.isclose(va[ok][best_i], va[ok][-1])
        else ""
    )
    return Finding(
        "overfitting",
        "warning",
        f"train (probe) {100 * tr[ok][-1]:.1f}% against validation {100 * va[ok][-1]:.1f}% at epoch {epoch}: "
        f"a gap of {100 * gap:.1f} points, {trend} (it was {100 * before:.1f} at epoch {since}){best_note}",
        evidence={"epoch": epoch, "gap": gap, "gap_before": before, "since_epoch": since, "trend": trend},
        remedies=[
            "--set regularization.l2=5.0 (weight decay)",
            "--set regularization.dropout=0.5",
            "--set training.early_stopping=5 (and use weights-best.npz)",
            "more training data (data.train_size)",
        ],
    )
