"""The largest eigenvalue of the loss Hessian, by power iteration on Hessian-vector products.

    H v ≈ (∇C(θ + εv) - ∇C(θ - εv)) / 2ε          (central differences of gradients, ||v|| = 1)
    v ← H v / ||H v||,   λ = v · H v               (until λ changes by less than ``tol``, relatively)

on a fixed batch of probe examples (the whole cost as trained: L2 included, no
dropout), in float64 on a copy of the network, so the trained parameters are
never touched. Power iteration finds the eigenvalue of largest magnitude; when
that one is negative, a second power iteration on H - λI finds the largest
(most positive) eigenvalue, the one the stability bound is about. Each measurement starts from the
last one's eigenvector, so later measurements need few iterations.

Gradient descent with learning rate η is stable along an eigenvector only
while η λ < 2: ``hessian_max_eig`` against 2/η tells whether training sits at
the edge of stability (Cohen et al. 2021).
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.instruments.base import Row, Sink
from nnlab.instruments.tracking import Tracked
from nnlab.network import Network
from nnlab.training import TrainState

#: the finite-difference step along a unit vector (float64: truncation ~ε², rounding ~1e-16/ε)
EPS = 1e-5


class FlatView:
    """A network's parameters as one float64 vector θ, and the gradient ∇C(θ) of the mean cost on (X, Y)."""

    def __init__(self, net: Network, X: np.ndarray, Y: np.ndarray) -> None:
        self.net, self.X, self.Y = net, X, Y
        self.names = list(net.params)

    def get(self) -> np.ndarray:
        return np.concatenate([self.net.params[k].ravel() for k in self.names]).astype(np.float64)

    def set(self, theta: np.ndarray) -> None:
        i = 0
        for k in self.names:
            p = self.net.params[k]
            p[...] = theta[i : i + p.size].reshape(p.shape)
            i += p.size

    def grad(self) -> np.ndarray:
        net, n, rows = self.net, len(self.X), self.net.eval_rows
        total = None
        for i in range(0, n, rows):
            net.forward(self.X[i : i + rows])
            grads = net.backward(self.Y[i : i + rows])
            g = np.concatenate([grads[k].ravel() for k in self.names]).astype(np.float64)
            g *= len(self.Y[i : i + rows]) / n
            total = g if total is None else total + g
        return total

    def hvp(self, theta: np.ndarray, v: np.ndarray, eps: float = EPS) -> np.ndarray:
        self.set(theta + eps * v)
        g_plus = self.grad()
        self.set(theta - eps * v)
        g_minus = self.grad()
        self.set(theta)
        return (g_plus - g_minus) / (2 * eps)


def largest_eigenvalue(
    view: FlatView, v0: np.ndarray, iterations: int = 20, tol: float = 1e-3, shift: float = 0.0
) -> tuple[float, np.ndarray, int]:
    """(λ, its unit eigenvector, the iterations taken) by power iteration on H - shift·I from ``v0``:
    the eigenvalue of H farthest from ``shift``."""
    theta = view.get()
    v = v0 / np.linalg.norm(v0)
    lam = math.nan
    for it in range(1, iterations + 1):
        Hv = view.hvp(theta, v)
        if shift:
            Hv -= shift * v
        new = float(v @ Hv) + shift
        norm = float(np.linalg.norm(Hv))
        if norm == 0:
            return shift, v, it
        v = Hv / norm
        if math.isfinite(lam) and abs(new - lam) <= tol * abs(new):
            return new, v, it
        lam = new
    return lam, v, iterations


def top_eigenvalue(view: FlatView, v0: np.ndarray, iterations: int = 20) -> tuple[float, np.ndarray, int]:
    """The largest (most positive) eigenvalue: power iteration finds the one of largest magnitude;
    when that is negative (a saddle region), a second run on H - λ·I finds the top of the spectrum."""
    lam, v, its = largest_eigenvalue(view, v0, iterations)
    if lam < 0:
        top, v_top, more = largest_eigenvalue(view, v0, iterations, shift=lam)
        return top, v_top, its + more
    return lam, v, its


class HessianEigenvalue(Tracked):
    """Rows ``hessian_max_eig`` and ``hessian_iterations`` (layer 0, label ``network``) in ``curvature``.

    ``twin`` is a float64 network of the same architecture; the trained
    network's parameters are copied into it at each measurement.
    """

    table = "curvature"

    def __init__(
        self,
        sink: Sink,
        twin: Network,
        X: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        iterations: int = 20,
        every_steps: int | None = None,
    ) -> None:
        super().__init__(every_steps)
        self.sink, self.twin, self.iterations = sink, twin, iterations
        self.view = FlatView(twin, X.astype(np.float64), twin.targets(y))
        self.v = rng.standard_normal(sum(p.size for p in twin.params.values()))

    def record(self, state: TrainState) -> None:
        self.twin.load_arrays(dict(state.net.params))
        lam, self.v, its = top_eigenvalue(self.view, self.v, self.iterations)
        rows = [
            Row(state.step, state.epoch, 0, "hessian_max_eig", lam, "network"),
            Row(state.step, state.epoch, 0, "hessian_iterations", float(its), "network"),
        ]
        self.sink.emit(self.table, rows)
