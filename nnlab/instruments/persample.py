"""Per-example gradient statistics per layer on the probe set: gradient signal-to-noise ratio, norm test.

For example x, the layer's gradient g_x (its W and b together) has, for a dense layer,

    ∂C_x/∂W = a_x δ_x^T        ∂C_x/∂b = δ_x

so the elementwise second moment Σ_x (∂C_x/∂W)² = (a²)^T (δ²) is one matrix product
and no per-example matrix is formed. A convolutional layer shares W over positions,
∂C_x/∂W = cols_x^T δ_x (the example's k×k patches against its δ at each position),
formed per example in chunks by a batched matrix product; ∂C_x/∂b = Σ_positions δ_x.

From the n probe examples, per parameter j: mean ḡ_j and variance
σ_j² = Σ_x (g_xj - ḡ_j)² / (n - 1). Per layer:

    grad_snr   = mean over j of ḡ_j² / σ_j²      (Liu et al. 2020's GSNR, Cockpit's "MeanGSNR";
                 parameters with no variance, such as the weights of an always-zero input pixel, left out)
    norm_test  = Σ_j σ_j² / (B ||ḡ||²)           (Bollapragada et al. 2018, at the training batch size B:
                 above 1, a mini-batch gradient's noise is larger than the gradient itself)

Both are NaN for a layer whose gradient is zero on every example (behind an output
layer initialized to zero, as network3 does, at initialization).

The cost's own gradient (per example, no L2 term), evaluation mode (no dropout), in float64.
"""

from __future__ import annotations

import numpy as np

from nnlab.instruments.base import Row, Sink
from nnlab.instruments.tracking import Tracked
from nnlab.layers.conv import Conv2D
from nnlab.layers.dense import Dense
from nnlab.network import Network
from nnlab.training import TrainState

#: numbers of per-example conv gradients formed at once (32 MB of float64)
CHUNK_NUMBERS = 1 << 22


class _Moments:
    """Running Σ_x g_x and Σ_x g_x² (elementwise) of one layer's W and b."""

    def __init__(self, layer) -> None:
        self.W = np.zeros(layer.W.shape, dtype=np.float64).reshape(-1, layer.W.shape[-1])
        self.W2 = np.zeros_like(self.W)
        self.b = np.zeros(layer.b.shape, dtype=np.float64)
        self.b2 = np.zeros_like(self.b)

    def dense(self, a: np.ndarray, d: np.ndarray) -> None:
        a, d = a.astype(np.float64, copy=False), d.astype(np.float64, copy=False)
        self.W += a.T @ d
        self.W2 += (a * a).T @ (d * d)
        self.b += d.sum(axis=0)
        self.b2 += (d * d).sum(axis=0)

    def conv(self, cols: np.ndarray, d: np.ndarray) -> None:
        m, F = len(d), d.shape[-1]
        cols = cols.reshape(m, -1, cols.shape[-1])  # (m, positions, k·k·C)
        d = d.reshape(m, -1, F).astype(np.float64, copy=False)
        step = max(1, CHUNK_NUMBERS // (cols.shape[-1] * F))
        for i in range(0, m, step):
            G = np.matmul(cols[i : i + step].transpose(0, 2, 1).astype(np.float64), d[i : i + step])
            self.W += G.sum(axis=0)
            self.W2 += np.einsum("xkf,xkf->kf", G, G)
        gb = d.sum(axis=1)  # (m, F): each example's bias gradient
        self.b += gb.sum(axis=0)
        self.b2 += (gb * gb).sum(axis=0)

    def stats(self, n: int, batch_size: int) -> dict[str, float]:
        mean = np.concatenate([self.W.ravel(), self.b]) / n
        second = np.concatenate([self.W2.ravel(), self.b2])
        var = np.maximum(second - n * mean * mean, 0.0) / max(n - 1, 1)
        varied = var > 1e-12 * second / n  # left out: the same gradient on every example (often all zero)
        snr = float(np.mean(mean[varied] ** 2 / var[varied])) if varied.any() else float("nan")
        g2 = float(mean @ mean)
        noise = float(var.sum())
        if g2 > 0:
            norm_test = noise / (batch_size * g2)
        else:  # no gradient at all (a layer behind a zero-initialized one): undefined; noise alone: infinite
            norm_test = float("inf") if noise > 0 else float("nan")
        return {"grad_snr": snr, "norm_test": norm_test}


def per_sample_moments(net: Network, X: np.ndarray, Y: np.ndarray) -> list[_Moments]:
    """Σ_x g_x and Σ_x g_x² of each learning layer over (X, Y), in chunks of ``net.eval_rows`` examples.

    Overwrites the network's caches and gradient buffers.
    """
    learning = net.learning_layers
    moments = {id(layer): _Moments(layer) for layer in learning}
    first = net.layers.index(learning[0])
    out = net.layers[-1]
    for i in range(0, len(X), net.eval_rows):
        net.forward(X[i : i + net.eval_rows])
        delta = net.cost.delta(out.z, out.a, Y[i : i + net.eval_rows], out.activation)  # per example: no 1/m
        moments[id(out)].dense(out.a_prev, delta)
        dy = out.backward_delta(delta)
        for layer in net.layers[first:-1][::-1]:
            if isinstance(layer, Dense):
                d = layer.delta(dy)
                moments[id(layer)].dense(layer.a_prev, d)
                dy = layer.backward_delta(d)
            elif isinstance(layer, Conv2D):
                d = layer.activation.backprop(layer.z, layer.a, dy)
                moments[id(layer)].conv(layer.cols, d)
                dy = layer.backward(dy)
            else:
                dy = layer.backward(dy)
    return [moments[id(layer)] for layer in learning]


def per_sample_stats(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int) -> dict[str, list[float]]:
    """Per layer 1..L: ``grad_snr`` and ``norm_test`` (see the module docstring)."""
    out: dict[str, list[float]] = {"grad_snr": [], "norm_test": []}
    for m in per_sample_moments(net, X, Y):
        for k, v in m.stats(len(X), batch_size).items():
            out[k].append(v)
    return out


class PerSampleGradients(Tracked):
    table = "gradients"

    def __init__(
        self, sink: Sink, X: np.ndarray, y: np.ndarray, batch_size: int, every_steps: int | None = None
    ) -> None:
        super().__init__(every_steps)
        self.sink, self.X, self.y, self.batch_size = sink, X, y, batch_size
        self._Y: np.ndarray | None = None

    def record(self, state: TrainState) -> None:
        net = state.net
        if self._Y is None:
            self._Y = net.targets(self.y)
        measured = per_sample_stats(net, self.X, self._Y, self.batch_size)
        rows = [
            Row(state.step, state.epoch, layer.number, q, v, layer.label)
            for q, values in measured.items()
            for layer, v in zip(net.learning_layers, values)
        ]
        self.sink.emit(self.table, rows)
