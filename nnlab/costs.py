"""Costs paired with the output layer: the value C and the output error δ^L.

Each cost gives, for a batch (rows are examples, ``Y`` one-hot):

- ``fn(z, a, Y)``: the cost of each example, shape ``(m,)``;
- ``delta(z, a, Y, output)``: ``δ^L = ∂C_x/∂z^L``, shape ``(m, n_out)``.

``reduction`` says how the per-unit terms of one example combine: ``"sum"``
over the output units (Nielsen's convention) or ``"mean"`` (TensorFlow's
``sigmoid_cross_entropy`` averaged over the outputs, docs/protocols.md#r4). Over
the batch the cost is always the mean.
"""

from __future__ import annotations

import numpy as np

from nnlab.activations import Activation, softplus
from nnlab.registry import Registry

COSTS: Registry[type[Cost]] = Registry("cost")

REDUCTIONS = ("sum", "mean")


class Cost:
    name = "cost"
    #: output activations this cost is defined for (None: any)
    outputs: tuple[str, ...] | None = None

    def __init__(self, reduction: str = "sum") -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, per_unit: np.ndarray) -> np.ndarray:
        total = per_unit.sum(axis=1)
        return total / per_unit.shape[1] if self.reduction == "mean" else total

    def _scale(self, delta: np.ndarray) -> np.ndarray:
        if self.reduction == "mean":
            delta /= delta.shape[1]
        return delta

    def fn(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def delta(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray, output: Activation) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


@COSTS.register("cross_entropy")
class CrossEntropy(Cost):
    """C = -Σ_j [y_j ln a_j + (1-y_j) ln(1-a_j)] on sigmoid outputs;  δ^L = a - y.

    Computed from z as Σ_j [softplus(z_j) - y_j z_j], which equals the above
    for a = σ(z) and never takes the log of 0.
    """

    name = "cross_entropy"
    outputs = ("sigmoid",)

    def fn(self, z, a, Y):
        return self._reduce(softplus(z) - Y * z)

    def delta(self, z, a, Y, output):
        return self._scale(a - Y)


@COSTS.register("log_likelihood")
class LogLikelihood(Cost):
    """C = -ln a_y on softmax outputs;  δ^L = a - y.

    Computed from z as logsumexp(z) - z_y (stable at any |z|). ``reduction``
    has no effect: there is one term per example.
    """

    name = "log_likelihood"
    outputs = ("softmax",)

    def fn(self, z, a, Y):
        zmax = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
        return lse - (Y * z).sum(axis=1)

    def delta(self, z, a, Y, output):
        return a - Y


@COSTS.register("quadratic")
class Quadratic(Cost):
    """C = ½ Σ_j (a_j - y_j)² with any output activation;  δ^L = (a - y) ⊙ σ'(z).

    For a softmax output the Jacobian is not diagonal:
    δ^L = a ⊙ ((a - y) - Σ_k (a_k - y_k) a_k).
    """

    name = "quadratic"

    def fn(self, z, a, Y):
        return self._reduce(0.5 * (a - Y) ** 2)

    def delta(self, z, a, Y, output):
        diff = a - Y
        if output.name == "softmax":
            return self._scale(a * (diff - (diff * a).sum(axis=1, keepdims=True)))
        return self._scale(diff * output.df(z, a))


def make_cost(name: str, reduction: str = "sum") -> Cost:
    return COSTS.get(name)(reduction=reduction)
