"""Per-layer instruments (see ``nnlab.instruments`` and docs/run-directory.md)."""

from __future__ import annotations

import math

import numpy as np

from nnlab.instruments.base import Row, Sink
from nnlab.network import Network
from nnlab.training import Hook, TrainState

#: "saturated": f'(z) below this fraction of the activation's largest slope
SATURATION_THRESHOLD = 0.01


def _norm(x: np.ndarray) -> float:
    flat = x.ravel()
    return math.sqrt(float(np.dot(flat, flat)))


def probe_mean_grads(net: Network, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    """The mean ∂C/∂θ on (X, Y) (L2 included) of every parameter, by name (W1, b1, ...).

    Evaluation mode (no dropout), in chunks of ``net.eval_rows`` examples (the
    gradients of the chunks averaged, weighted by their sizes, in float64).
    Overwrites the network's caches and gradient buffers (with one chunk, the
    arrays returned are those buffers).
    """
    n, rows = len(X), net.eval_rows
    if n <= rows:
        net.forward(X)
        return net.backward(Y)
    total = {name: np.zeros(g.shape) for name, g in net.grads.items()}
    for i in range(0, n, rows):
        net.forward(X[i : i + rows])
        grads = net.backward(Y[i : i + rows])
        share = len(Y[i : i + rows]) / n
        for name, g in grads.items():
            total[name] += share * g
    return total


def probe_mean_gradients(net: Network, X: np.ndarray, Y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer 1..L: the mean ∂C/∂b^l and ∂C/∂W^l on (X, Y) (``probe_mean_grads``)."""
    grads = probe_mean_grads(net, X, Y)
    layers = net.learning_layers
    return [grads[f"b{layer.number}"] for layer in layers], [grads[f"W{layer.number}"] for layer in layers]


def probe_gradients(net: Network, X: np.ndarray, Y: np.ndarray) -> dict[str, list[float]]:
    """Per layer 1..L on (X, Y): ||δ^l|| = ||mean_x ∂C/∂b^l||, ||∂C/∂W^l|| (L2 included), and the
    mean and largest |∂C/∂W^l_jk| over the layer's weights (the gradient-flow chart's numbers).

    For a convolutional layer ∂C/∂b^l has one entry per filter (δ summed over
    the positions the filter is applied at). See ``probe_mean_gradients``.
    """
    gb, gW = probe_mean_gradients(net, X, Y)
    return {
        "delta_norm": [_norm(g) for g in gb],
        "weight_grad_norm": [_norm(g) for g in gW],
        "grad_abs_mean": [float(np.abs(g).mean(dtype=np.float64)) for g in gW],
        "grad_abs_max": [float(np.abs(g).max()) for g in gW],
    }


def activation_stats(net: Network, X: np.ndarray) -> dict[str, list[float | None]]:
    """Per layer 1..L: mean and std of a^l; saturated / dead fraction where they apply (else None).

    saturated_fraction: share of (example, unit) pairs with f'(z) < 1% of max f'
    (saturating activations: sigmoid, tanh). dead_fraction: share of units with
    f'(z) = 0 on every example (rectifying activations: relu); in a
    convolutional layer a unit is one filter at one position. In chunks of
    ``net.eval_rows`` examples.
    """
    layers = net.learning_layers
    sums = [_ActivationSums() for _ in layers]
    for i in range(0, len(X), net.eval_rows):
        net.forward(X[i : i + net.eval_rows])
        for layer, acc in zip(layers, sums):
            acc.add(layer)
    out: dict[str, list[float | None]] = {"mean": [], "std": [], "saturated_fraction": [], "dead_fraction": []}
    for layer, acc in zip(layers, sums):
        for key, value in acc.result(layer.activation).items():
            out[key].append(value)
    return out


class _ActivationSums:
    """Running sums of one layer's activation statistics over chunks of the probe set."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, float, int]] = []  # (mean, std, size) of each chunk
        self.saturated, self.count = 0, 0
        self.alive: np.ndarray | None = None  # per unit: f'(z) != 0 on some example

    def add(self, layer) -> None:
        act, z, a = layer.activation, layer.z, layer.a
        self.chunks.append((float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64)), a.size))
        self.count += a.size
        if act.saturating or act.rectifying:
            d = act.df(z, a)
            if act.saturating:
                self.saturated += int((d < SATURATION_THRESHOLD * act.max_slope).sum())
            if act.rectifying:
                alive = (d != 0).any(axis=0)
                self.alive = alive if self.alive is None else self.alive | alive

    def result(self, act) -> dict[str, float | None]:
        if len(self.chunks) == 1:  # one chunk: as measured
            mean, std, _ = self.chunks[0]
        else:  # pooled from the chunks' means and variances
            sizes = np.array([c[2] for c in self.chunks], dtype=float)
            means, stds = np.array([c[0] for c in self.chunks]), np.array([c[1] for c in self.chunks])
            mean = float((sizes * means).sum() / sizes.sum())
            std = math.sqrt(float((sizes * (stds**2 + (means - mean) ** 2)).sum() / sizes.sum()))
        return {
            "mean": mean,
            "std": std,
            "saturated_fraction": self.saturated / self.count if act.saturating else None,
            "dead_fraction": float((~self.alive).mean()) if act.rectifying else None,
        }


def _rows(net: Network, step: int, epoch: int, measured: dict[str, list[float | None]]) -> list[Row]:
    """Rows of per-layer values, one list entry per learning layer (1..L)."""
    layers = net.learning_layers
    return [
        Row(step, epoch, layer.number, quantity, value, layer.label)
        for quantity, values in measured.items()
        for layer, value in zip(layers, values)
        if value is not None
    ]


class _ProbeHook(Hook):
    """Measures on the probe set at initialization, each epoch end and (optionally) every k steps."""

    table = ""

    def __init__(self, sink: Sink, X: np.ndarray, y: np.ndarray, every_steps: int | None = None) -> None:
        self.sink, self.X, self.y = sink, X, y
        self.every_steps = every_steps
        self._Y: np.ndarray | None = None

    def measure(self, net: Network) -> dict[str, list[float | None]]:
        raise NotImplementedError

    def _emit(self, state: TrainState) -> None:
        self.sink.emit(self.table, _rows(state.net, state.step, state.epoch, self.measure(state.net)))

    def on_train_start(self, state: TrainState) -> None:
        if state.step == 0:  # a resumed run measured its start already
            self._emit(state)

    def on_step_end(self, state: TrainState) -> None:
        k = self.every_steps
        if k and state.step % k == 0 and state.batch_in_epoch + 1 < state.batches_per_epoch:
            self._emit(state)  # (the epoch's last step is measured by on_epoch_end)

    def on_epoch_end(self, state: TrainState) -> None:
        self._emit(state)


class ProbeGradients(_ProbeHook):
    table = "gradients"

    def measure(self, net: Network) -> dict[str, list[float | None]]:
        if self._Y is None:
            self._Y = net.targets(self.y)
        return probe_gradients(net, self.X, self._Y)


class ActivationStats(_ProbeHook):
    table = "activations"

    def measure(self, net: Network) -> dict[str, list[float | None]]:
        return activation_stats(net, self.X)


class BatchStats(Hook):
    """Over every ``every``-th step of an epoch: mean ||∂C/∂W^l|| of the mini-batch and mean ||ΔW^l|| / ||W^l||.

    The ratio uses W after the update. One row per layer and quantity at each epoch end.
    """

    table = "gradients"

    def __init__(self, sink: Sink, every: int = 10) -> None:
        self.sink, self.every = sink, every
        self._reset()

    def _reset(self) -> None:
        self.grad_sums: list[float] = []
        self.ratio_sums: list[float] = []
        self.count = 0

    def _sampled(self, state: TrainState) -> bool:
        return state.batch_in_epoch % self.every == 0

    def on_gradients(self, state: TrainState) -> None:
        if not self._sampled(state):
            return
        norms = [_norm(layer.gW) for layer in state.net.learning_layers]
        self.grad_sums = [s + n for s, n in zip(self.grad_sums, norms)] if self.grad_sums else norms

    def on_step_end(self, state: TrainState) -> None:
        if not self._sampled(state):
            return
        ratios = []
        for layer in state.net.learning_layers:
            w = _norm(layer.W)
            ratios.append(_norm(state.updates[f"W{layer.number}"]) / w if w > 0 else math.inf)
        self.ratio_sums = [s + r for s, r in zip(self.ratio_sums, ratios)] if self.ratio_sums else ratios
        self.count += 1

    def on_epoch_end(self, state: TrainState) -> None:
        if self.count:
            measured = {
                "batch_grad_norm": [s / self.count for s in self.grad_sums],
                "update_ratio": [s / self.count for s in self.ratio_sums],
            }
            self.sink.emit(self.table, _rows(state.net, state.step, state.epoch, measured))
        self._reset()
