"""Convolution, max-pooling and flattening: the layers of Nielsen's chapter 6.

Images are batch-first and channels-last: ``x: (m, H, W, C)``.

Convolution (stride 1, no padding: "valid", as ``network3.py``), F filters of
k×k over C input channels::

    W: (k, k, C, F)      b: (F,)      Ho, Wo = H - k + 1, W - k + 1
    z[x,i,j,f] = Σ_{p,q,c} x[x, i+p, j+q, c] W[p,q,c,f] + b[f]         a = f(z)

Every output position shares the same W and b, so their gradients sum over
positions::

    δ = ∂C/∂a ⊙ f'(z)                                   (m, Ho, Wo, F)
    ∂C/∂b[f]     = Σ_{x,i,j} δ[x,i,j,f]
    ∂C/∂W[p,q,c,f] = Σ_{x,i,j} x[x,i+p,j+q,c] δ[x,i,j,f]    (the input correlated with δ)
    ∂C/∂x[x,i,j,c] = Σ_{p,q,f} δ[x,i-p,j-q,f] W[p,q,c,f]    (δ, zero-padded, convolved with the flipped kernel)

Computed as matrix products on the k×k patches ("im2col"): the patches of
every position are the rows of ``cols: (m·Ho·Wo, k·k·C)``, so the forward pass
is ``z = cols W_mat + b`` with ``W_mat = W.reshape(k·k·C, F)``, exactly a
dense layer's ``z = x W + b``; ∂C/∂W = cols^T δ; and ∂C/∂x adds the rows of
``δ W_mat^T`` back onto the patches they came from ("col2im", one slice
addition per kernel offset, k² in all).

Max-pooling (non-overlapping p×p windows)::

    y[x,i,j,c] = max_{u,v < p} x[x, p·i+u, p·j+v, c]

passes ∂C/∂y back to the position of each window's maximum (the first one
on a tie) and 0 to the others; it has no parameters.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnlab.activations import Activation
from nnlab.hyper import Hyper
from nnlab.layers.base import LAYERS, Layer, LayerParts, Shape, ShapeError, n_units


def patches(x: np.ndarray, k: int) -> np.ndarray:
    """(m, H, W, C) -> the k×k patch at every valid position: (m, Ho, Wo, k, k, C), a strided view."""
    return sliding_window_view(x, (k, k), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """F filters of k×k, stride 1, no padding, then the activation (see the module docstring)."""

    kind = "conv2d"
    label_stem = "conv"
    param_names = ("W", "b")
    decayed = ("W",)
    numbered = True
    hyper = {
        "filters": Hyper(int, ge=1, doc="feature maps F"),
        "kernel": Hyper(int, ge=1, doc="kernel side k (k x k, stride 1, no padding)"),
    }
    settings = ("activation", "init")

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: Activation):
        super().__init__()
        if W.ndim != 4 or W.shape[0] != W.shape[1] or W.shape[3:] != b.shape:
            raise ValueError(f"conv W {W.shape} must be (k, k, C, F) with b (F,), got b {b.shape}")
        if activation.init_params(1, W.dtype):
            raise ValueError(f"activation {activation.name} has learned parameters: dense layers only")
        self.W, self.b = W, b
        self.gW, self.gb = np.zeros_like(W), np.zeros_like(b)
        self.activation = activation
        self.x_shape: tuple[int, ...] = ()
        self.cols = self.z = self.a = None

    @property
    def kernel(self) -> int:
        return self.W.shape[0]

    @property
    def channels(self) -> int:
        return self.W.shape[2]

    @property
    def filters(self) -> int:
        return self.W.shape[3]

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) == 3 and input_shape[2] != self.channels:
            raise ValueError(f"a conv layer over {self.channels} channels cannot take inputs of shape {input_shape}")
        return self.shape_after(input_shape, self.filters, self.kernel)

    @classmethod
    def shape_after(cls, input_shape: Shape, filters: int, kernel: int) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"a conv layer takes (H, W, C) maps, not inputs of shape {tuple(input_shape)}")
        H, W, C = input_shape
        k = kernel
        if k > H or k > W:
            raise ShapeError(f"a {k}x{k} kernel does not fit the {H}x{W} map it gets", key="kernel")
        return (H - k + 1, W - k + 1, filters)

    @classmethod
    def footprint(cls, input_shape: Shape, filters: int, kernel: int) -> tuple[int, int, int]:
        """W and b; outputs; the im2col patches: k·k·C numbers for each of the Ho·Wo positions."""
        Ho, Wo, F = cls.shape_after(input_shape, filters, kernel)
        k, C = kernel, input_shape[2]
        return k * k * C * F + F, Ho * Wo * F, Ho * Wo * k * k * C

    @classmethod
    def create(cls, input_shape: Shape, hyper: dict, parts: LayerParts) -> Conv2D:
        C, k, F = input_shape[2], hyper["kernel"], hyper["filters"]
        W, b = parts.draw((k, k, C, F), k * k * C, F * k * k // parts.fan_out_divisor)
        return cls(W, b, parts.activation)

    def forward(self, x: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """z = cols W_mat + b at every position;  a = f(z)."""
        m, H, Wd, C = x.shape
        k, F = self.kernel, self.filters
        Ho, Wo = H - k + 1, Wd - k + 1
        cols = patches(x, k).reshape(m * Ho * Wo, k * k * C)  # im2col: one copy of the patches
        z = np.dot(cols, self.W.reshape(k * k * C, F))
        z += self.b
        z = z.reshape(m, Ho, Wo, F)
        self.x_shape, self.cols, self.z = x.shape, cols, z
        self.a = self.activation.f(z)
        return self.a

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """δ = ∂C/∂a ⊙ f'(z);  ∂C/∂W = cols^T δ;  ∂C/∂b = Σ δ;  ∂C/∂x by col2im of δ W_mat^T."""
        k, F = self.kernel, self.filters
        delta = self.activation.backprop(self.z, self.a, dy).reshape(-1, F)
        np.dot(self.cols.T, delta, out=self.gW.reshape(-1, F))
        np.add.reduce(delta, axis=0, out=self.gb)
        if not self.input_grad:
            return None
        m, H, Wd, C = self.x_shape
        Ho, Wo = H - k + 1, Wd - k + 1
        dcols = np.dot(delta, self.W.reshape(-1, F).T).reshape(m, Ho, Wo, k, k, C)
        dx = np.zeros(self.x_shape, dtype=delta.dtype)
        for p in range(k):  # col2im: each kernel offset's share goes back where its patch came from
            for q in range(k):
                dx[:, p : p + Ho, q : q + Wo, :] += dcols[:, :, :, p, q, :]
        return dx

    def __repr__(self) -> str:
        k, C, F = self.kernel, self.channels, self.filters
        return f"Conv2D({C} -> {F}, {k}x{k}, {self.activation!r})"


@LAYERS.register("maxpool2d")
class MaxPool2D(Layer):
    """Non-overlapping p×p max-pooling: (m, H, W, C) -> (m, H/p, W/p, C)."""

    kind = "maxpool2d"
    label_stem = "pool"
    hyper = {"size": Hyper(int, default=2, ge=1, doc="window side p (p x p, no overlap)")}

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.x = self.y = None

    @classmethod
    def shape_after(cls, input_shape: Shape, size: int = 2) -> Shape:
        p = size
        if len(input_shape) != 3:
            raise ValueError(f"max-pooling takes (H, W, C) maps, not inputs of shape {tuple(input_shape)}")
        H, W, C = input_shape
        if H % p or W % p:
            raise ShapeError(
                f"{p}x{p} pooling does not tile the {H}x{W} map it gets (sides must be multiples of {p})", key="size"
            )
        return (H // p, W // p, C)

    def _offsets(self) -> list[tuple[int, int]]:
        """The p·p positions (u, v) inside a window, in row-major order."""
        return [(u, v) for u in range(self.size) for v in range(self.size)]

    def forward(self, x: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """y = the elementwise largest of the p·p strided slices x[:, u::p, v::p]."""
        p = self.size
        offsets = self._offsets()
        y = np.maximum(x[:, ::p, ::p], x[:, offsets[1][0] :: p, offsets[1][1] :: p]) if p > 1 else x.copy()
        for u, v in offsets[2:]:
            np.maximum(y, x[:, u::p, v::p], out=y)
        self.x, self.y = x, y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """∂C/∂x is ∂C/∂y at each window's maximum (the first, on a tie), 0 elsewhere."""
        if not self.input_grad:
            return None
        p = self.size
        dx = np.empty(self.x.shape, dtype=dy.dtype)
        taken = np.zeros(self.y.shape, dtype=bool)  # windows whose maximum has had its ∂C/∂y
        for u, v in self._offsets():
            here = np.equal(self.x[:, u::p, v::p], self.y)
            here &= ~taken
            taken |= here
            np.multiply(dy, here, out=dx[:, u::p, v::p])
        return dx

    def __repr__(self) -> str:
        return f"MaxPool2D({self.size}x{self.size})"


@LAYERS.register("flatten")
class Flatten(Layer):
    """(m, H, W, C) -> (m, H·W·C): each example's numbers in one row, for a dense layer."""

    kind = "flatten"

    def __init__(self) -> None:
        super().__init__()
        self.x_shape: tuple[int, ...] = ()

    @classmethod
    def shape_after(cls, input_shape: Shape) -> Shape:
        return (n_units(input_shape),)

    @classmethod
    def footprint(cls, input_shape: Shape) -> tuple[int, int, int]:
        return 0, 0, 0  # a view of its input: nothing of its own

    def forward(self, x: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        self.x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        return dy.reshape(self.x_shape) if self.input_grad else None
