"""The fully-connected layer: Nielsen's layer l, W, b, z, a, δ.

    x = a^{l-1}: (m, n_in)      W: (n_in, n_out)      b: (n_out,)
    z = x W + b                 a = f(z)              out = a ⊙ mask / (1-p) (dropout, training only)

backward, from ∂C/∂out:

    δ = ∂C/∂a ⊙ f'(z)           (∂C/∂a = ∂C/∂out ⊙ mask under dropout)
    ∂C/∂b = Σ_x δ_x             ∂C/∂W = x^T δ          ∂C/∂x = δ W^T

The output layer gets its δ^L from the cost instead (``backward_delta``).
"""

from __future__ import annotations

import numpy as np

from nnlab.activations import Activation
from nnlab.hyper import Hyper
from nnlab.layers.base import LAYERS, Layer, LayerParts, Shape


@LAYERS.register("dense")
class Dense(Layer):
    """One fully-connected layer with its activation, caches and gradient buffers."""

    kind = "dense"
    label_stem = "dense"
    param_names = ("W", "b")  # plus the activation's own (PReLU: alpha), see ``params``
    decayed = ("W",)
    numbered = True
    hyper = {"units": Hyper(int, ge=1, doc="output units")}
    settings = ("activation", "init", "dropout")
    flat_input = True
    learned_activation = True

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: Activation, dropout: float = 0.0):
        super().__init__()
        if W.ndim != 2 or W.shape[1:] != b.shape:
            raise ValueError(f"W {W.shape} and b {b.shape} do not match")
        self.W, self.b = W, b
        self.gW, self.gb = np.zeros_like(W), np.zeros_like(b)
        self.activation = activation
        self.dropout = dropout
        # learned parameters of the activation (PReLU's slopes), named like the activation has them
        self.activation_params: dict[str, np.ndarray] = activation.init_params(W.shape[1], W.dtype)
        self.activation_grads = {k: np.zeros_like(v) for k, v in self.activation_params.items()}
        # caches of the last forward pass
        self.a_prev = self.z = self.a = self.out = self.mask = None

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "b": self.b, **self.activation_params}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {"W": self.gW, "b": self.gb, **self.activation_grads}

    @property
    def units(self) -> int:
        return self.n_out

    def output_shape(self, input_shape: Shape) -> Shape:
        if tuple(input_shape) != (self.n_in,):
            raise ValueError(f"a dense layer of {self.n_in} inputs cannot take inputs of shape {tuple(input_shape)}")
        return (self.n_out,)

    @classmethod
    def shape_after(cls, input_shape: Shape, units: int) -> Shape:
        return (units,)

    @classmethod
    def footprint(cls, input_shape: Shape, units: int) -> tuple[int, int, int]:
        (n_in,) = input_shape
        return n_in * units + units, units, 0

    @classmethod
    def create(cls, input_shape: Shape, hyper: dict, parts: LayerParts) -> Dense:
        (n_in,), n_out = input_shape, hyper["units"]
        W, b = parts.draw((n_in, n_out), n_in, n_out)
        return cls(W, b, parts.activation, dropout=parts.dropout)

    def forward(self, x: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """z = x W + b;  a = f(z);  out = a ⊙ mask / (1-p) when training with dropout."""
        z = np.dot(x, self.W)
        z += self.b
        a = self.activation.f(z)
        self.a_prev, self.z, self.a = x, z, a
        if train and self.dropout > 0.0:
            if rng is None:
                raise ValueError("dropout needs the training Generator")
            keep = 1.0 - self.dropout
            self.mask = (rng.random(a.shape) < keep).astype(a.dtype) / a.dtype.type(keep)
            self.out = a * self.mask
        else:
            self.mask = None
            self.out = a
        return self.out

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """∂C/∂out -> δ -> this layer's gradients, and ∂C/∂x."""
        return self.backward_delta(self.delta(dy))

    def delta(self, dC_dout: np.ndarray) -> np.ndarray:
        """δ = ∂C/∂a ⊙ f'(z), with ∂C/∂a = ∂C/∂out ⊙ mask under dropout."""
        dC_da = dC_dout * self.mask if self.mask is not None else dC_dout
        if self.activation_grads:  # PReLU's slopes; nothing to do (nor any dict to make) for the others
            for k, g in self.activation.param_grads(self.z, dC_da).items():
                self.activation_grads[k][...] = g
        return self.activation.backprop(self.z, self.a, dC_da)

    def backward_delta(self, delta: np.ndarray) -> np.ndarray | None:
        """From δ (already carrying 1/m): ∂C/∂W = x^T δ, ∂C/∂b = Σ_x δ; returns ∂C/∂x = δ W^T."""
        np.dot(self.a_prev.T, delta, out=self.gW)  # np.dot hands the transpose to BLAS; matmul can be slower here
        np.add.reduce(delta, axis=0, out=self.gb)
        return np.dot(delta, self.W.T) if self.input_grad else None

    def __repr__(self) -> str:
        drop = f", dropout={self.dropout}" if self.dropout else ""
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation!r}{drop})"
