"""A fully-connected network that reads like the textbook: W, b, z, a, δ.

Batch-first arrays (rows are examples). Layer l (1-based, as in Nielsen)
maps ``a^{l-1}: (m, n_in)`` to

    z^l = a^{l-1} W^l + b^l        W^l: (n_in, n_out), b^l: (n_out,)
    a^l = f(z^l)                   (then inverted dropout while training)

and backpropagation runs

    δ^L = ∂C/∂z^L                  (from the cost: a - y for the matched pairs)
    δ^l = (δ^{l+1} W^{l+1 T}) ⊙ f'(z^l)
    ∂C/∂b^l = Σ_x δ^l_x / m,   ∂C/∂W^l = a^{l-1 T} δ^l / m  (+ L2: (λ/n) W^l)

Parameters are named ``W1, b1, W2, ...`` (``alpha<l>`` for PReLU slopes); the
dict returned by ``params`` holds the very arrays the layers compute with, so
an optimizer updating them in place updates the network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nnlab.activations import Activation
from nnlab.costs import Cost

Params = dict[str, np.ndarray]

_ALIGN = 16  # elements: parameters in the flat θ start on 64-byte boundaries (float32)


class Dense:
    """One fully-connected layer with its activation, caches and gradient buffers."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: Activation, dropout: float = 0.0):
        if W.shape[1] != b.shape[0]:
            raise ValueError(f"W {W.shape} and b {b.shape} do not match")
        self.W, self.b = W, b
        self.activation = activation
        self.dropout = dropout
        self.extra: Params = activation.init_params(W.shape[1], W.dtype)
        self.gW = np.zeros_like(W)
        self.gb = np.zeros_like(b)
        self.g_extra: Params = {k: np.zeros_like(v) for k, v in self.extra.items()}
        # caches of the last forward pass
        self.a_prev = self.z = self.a = self.out = self.mask = None

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    def forward(self, a_prev: np.ndarray, train: bool = False, rng: np.random.Generator | None = None):
        """z = a_prev W + b;  a = f(z);  out = a ⊙ mask / (1-p) when training with dropout."""
        z = np.dot(a_prev, self.W)
        z += self.b
        a = self.activation.f(z)
        self.a_prev, self.z, self.a = a_prev, z, a
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

    def delta(self, dC_dout: np.ndarray) -> np.ndarray:
        """δ = ∂C/∂a ⊙ f'(z), with ∂C/∂a = ∂C/∂out ⊙ mask under dropout."""
        dC_da = dC_dout * self.mask if self.mask is not None else dC_dout
        if self.g_extra:
            for k, g in self.activation.param_grads(self.z, dC_da).items():
                self.g_extra[k][...] = g
        return self.activation.backprop(self.z, self.a, dC_da)

    def accumulate(self, delta: np.ndarray) -> None:
        """∂C/∂W = a_prev^T δ and ∂C/∂b = Σ_x δ into the gradient buffers (δ already carries 1/m)."""
        np.dot(self.a_prev.T, delta, out=self.gW)  # np.dot hands the transpose to BLAS; matmul can be slower here
        np.add.reduce(delta, axis=0, out=self.gb)

    def __repr__(self) -> str:
        drop = f", dropout={self.dropout}" if self.dropout else ""
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation!r}{drop})"


class Network:
    """A stack of ``Dense`` layers ending in the output layer, trained against ``cost``.

    ``l2`` is the weight-decay coefficient λ/n (Nielsen's λ over the
    training-set size n): the cost gains (λ/2n) Σ_l ||W^l||², biases and
    PReLU slopes excluded.

    The network takes its layers over: unless a layer has learned activation
    parameters, every W^l and b^l is copied into one flat vector θ
    (``flat_params``, gradients in ``flat_grads``) and the layers' ``W``,
    ``b``, ``gW``, ``gb`` become views of it, so L2 and elementwise
    optimizers can work on θ in one go. The arrays handed to ``Dense`` are
    not the ones trained; ``params`` and the layers' attributes are.
    """

    def __init__(self, layers: Sequence[Dense], cost: Cost, l2: float = 0.0) -> None:
        self.layers = list(layers)
        self.cost = cost
        self.l2 = float(l2)
        out = self.layers[-1].activation
        if cost.outputs is not None and out.name not in cost.outputs:
            raise ValueError(f"cost {cost.name} needs a {'/'.join(cost.outputs)} output, not {out.name}")
        if self.layers[-1].extra:
            # backward takes δ^L straight from the cost and never forms ∂C/∂a^L, so the
            # output activation's own parameters (PReLU slopes) would get no gradient
            raise ValueError(f"output activation {out.name} has learned parameters: hidden layers only")
        # θ: every W and b in one flat vector (W's first), the layers' arrays being views of it,
        # so that L2 and elementwise optimizers run as a few whole-vector operations per step
        # (None when a layer has learned activation parameters or dtypes differ).
        self.flat_params: np.ndarray | None = None
        self.flat_grads: np.ndarray | None = None
        self.flat_layout: dict[str, tuple[int, tuple[int, ...]]] = {}
        if (
            not any(layer.extra for layer in self.layers)
            and len({a.dtype for layer in self.layers for a in (layer.W, layer.b)}) == 1
        ):
            self._pack_parameters()
        self._params: Params = {}
        self._grads: Params = {}
        for l, layer in enumerate(self.layers, start=1):
            self._params[f"W{l}"], self._grads[f"W{l}"] = layer.W, layer.gW
            self._params[f"b{l}"], self._grads[f"b{l}"] = layer.b, layer.gb
            for k in layer.extra:
                self._params[f"{k}{l}"], self._grads[f"{k}{l}"] = layer.extra[k], layer.g_extra[k]
        self._decay_tmp = [np.empty_like(layer.W) for layer in self.layers] if self.flat_params is None else []
        if self.flat_params is not None:
            n_W = self.flat_layout["b1"][0]  # W1..WL come first in θ
            self._W_all, self._gW_all = self.flat_params[:n_W], self.flat_grads[:n_W]
            self._decay_tmp_all = np.empty_like(self._W_all)

    def _pack_parameters(self) -> None:
        """Move W1..WL, b1..bL (and their gradient buffers) into the flat θ and ∂C/∂θ."""
        names = [(f"W{l}", layer, "W", "gW") for l, layer in enumerate(self.layers, 1)]
        names += [(f"b{l}", layer, "b", "gb") for l, layer in enumerate(self.layers, 1)]
        offset = 0
        for name, layer, p, _ in names:
            shape = getattr(layer, p).shape
            self.flat_layout[name] = (offset, shape)
            offset += -(-math.prod(shape) // _ALIGN) * _ALIGN  # each array starts 64-byte aligned
        dtype = self.layers[0].W.dtype
        self.flat_params, self.flat_grads = np.zeros(offset, dtype), np.zeros(offset, dtype)
        for name, layer, p, g in names:
            view, gview = self.flat_view(self.flat_params, name), self.flat_view(self.flat_grads, name)
            view[...] = getattr(layer, p)
            setattr(layer, p, view)
            setattr(layer, g, gview)

    def flat_view(self, flat: np.ndarray, name: str) -> np.ndarray:
        """The part of a θ-shaped flat vector that belongs to parameter ``name``, shaped like it."""
        offset, shape = self.flat_layout[name]
        return flat[offset : offset + math.prod(shape)].reshape(shape)

    # -- introspection -------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].W.dtype

    @property
    def params(self) -> Params:
        """Named parameter arrays (the live arrays, not copies)."""
        return self._params

    @property
    def grads(self) -> Params:
        """Gradients from the last ``backward`` (buffers reused by the next call)."""
        return self._grads

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({l}) {layer!r}" for l, layer in enumerate(self.layers, 1))
        return f"Network(sizes={self.sizes}, cost={self.cost!r}, l2={self.l2:g})\n{inner}"

    # -- forward / backward --------------------------------------------
    def forward(self, X: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """a^L for a batch X: (m, n_0); caches every layer's z and a."""
        a = X
        for layer in self.layers:
            a = layer.forward(a, train=train, rng=rng)
        return a

    def backward(self, Y: np.ndarray) -> Params:
        """Gradients of the mean cost (L2 included) over the last forward batch.

        Y: one-hot targets (m, n_L). Fills and returns ``grads``. The first
        layer's ∂C/∂a^0 is never formed: nothing needs it.
        """
        out = self.layers[-1]
        delta = self.cost.delta(out.z, out.a, Y, out.activation)
        delta *= 1.0 / Y.shape[0]
        dC_dout = None  # ∂C/∂out of layer i, set by the layer above it
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i < len(self.layers) - 1:
                delta = layer.delta(dC_dout)
            layer.accumulate(delta)
            if i > 0:
                dC_dout = np.dot(delta, layer.W.T)
        if self.l2:  # ∂C/∂W += (λ/n) W, for every layer at once when W's share θ
            if self.flat_params is not None:
                np.multiply(self._W_all, self.l2, out=self._decay_tmp_all)
                self._gW_all += self._decay_tmp_all
            else:
                for layer, tmp in zip(self.layers, self._decay_tmp):
                    np.multiply(layer.W, self.l2, out=tmp)
                    layer.gW += tmp
        return self._grads

    def deltas(self) -> list[np.ndarray]:
        """Nielsen's δ^l as the mean bias gradient of each layer after ``backward``."""
        return [layer.gb for layer in self.layers]

    # -- cost, prediction ------------------------------------------------
    def l2_penalty(self) -> float:
        """(λ/2n) Σ ||W||²."""
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * sum(float(np.vdot(layer.W, layer.W)) for layer in self.layers)

    def loss(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Mean cost over the batch plus the L2 penalty (no dropout)."""
        self.forward(X)
        out = self.layers[-1]
        return float(self.cost.fn(out.z, out.a, Y).mean()) + self.l2_penalty()

    def loss_and_grads(
        self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[float, Params]:
        """The whole cost as configured (L2 included) and every parameter's gradient.

        ``y`` may be labels (m,) or one-hot (m, n_L). With dropout layers,
        pass ``rng`` to train-mode forward (a fresh mask); without it dropout
        is off. Returns copies, safe to keep.
        """
        Y = self.targets(y)
        self.forward(X, train=rng is not None, rng=rng)
        out = self.layers[-1]
        loss = float(self.cost.fn(out.z, out.a, Y).mean()) + self.l2_penalty()
        grads = self.backward(Y)
        return loss, {k: g.copy() for k, g in grads.items()}

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Labels (m,) to one-hot (m, n_L) in the network's dtype; one-hot passes through."""
        if y.ndim == 2:
            return y.astype(self.dtype, copy=False)
        return one_hot(y, self.sizes[-1], self.dtype)

    def predict_proba(self, X: np.ndarray, batch: int = 10_000) -> np.ndarray:
        """a^L for every row of X, in chunks (evaluation mode: no dropout)."""
        return np.concatenate([self.forward(X[i : i + batch]) for i in range(0, len(X), batch)])

    def predict(self, X: np.ndarray, batch: int = 10_000) -> np.ndarray:
        return self.predict_proba(X, batch).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch: int = 10_000) -> tuple[float, float]:
        """(loss, accuracy) over a dataset: loss = mean cost + L2 penalty."""
        total, correct = 0.0, 0
        for i in range(0, len(X), batch):
            Xb, yb = X[i : i + batch], y[i : i + batch]
            a = self.forward(Xb)
            out = self.layers[-1]
            total += float(self.cost.fn(out.z, a, one_hot(yb, self.sizes[-1], self.dtype)).sum())
            correct += int((a.argmax(axis=1) == yb).sum())
        return total / len(X) + self.l2_penalty(), correct / len(X)

    # -- persistence ------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Parameters to ``.npz`` (written atomically)."""
        from nnlab.io import save_npz

        save_npz(path, self._params)

    def load(self, path: str | Path) -> None:
        """Parameters from a ``.npz`` written by ``save``: names and shapes must match."""
        from nnlab.io import load_npz

        self.load_arrays(load_npz(path), source=str(path))

    def load_arrays(self, arrays: dict[str, np.ndarray], source: str = "arrays") -> None:
        """Copy named arrays into the parameters: names and shapes must match (checked before any copy)."""
        path = source
        if set(arrays) != set(self._params):
            raise ValueError(f"{path}: parameters {sorted(arrays)} do not match {sorted(self._params)}")
        for k, p in self._params.items():  # check all before copying any: no half-loaded network
            if arrays[k].shape != p.shape:
                raise ValueError(f"{path}: {k} has shape {arrays[k].shape}, network has {p.shape}")
        for k, p in self._params.items():
            p[...] = arrays[k]


def one_hot(y: np.ndarray, n: int, dtype=np.float32) -> np.ndarray:
    Y = np.zeros((len(y), n), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y
