"""A network is a sequence of layers plus the cost; it reads like the textbook: W, b, z, a, δ.

Batch-first arrays (rows are examples). For a fully-connected net, layer l
(1-based, as in Nielsen) maps ``a^{l-1}: (m, n_in)`` to

    z^l = a^{l-1} W^l + b^l        W^l: (n_in, n_out), b^l: (n_out,)
    a^l = f(z^l)                   (then inverted dropout while training)

and backpropagation runs

    δ^L = ∂C/∂z^L                  (from the cost: a - y for the matched pairs)
    δ^l = (δ^{l+1} W^{l+1 T}) ⊙ f'(z^l)
    ∂C/∂b^l = Σ_x δ^l_x / m,   ∂C/∂W^l = a^{l-1 T} δ^l / m  (+ L2: (λ/n) W^l)

Each step of that lives in its layer (``nnlab.layers``: dense, conv2d,
maxpool2d, flatten), behind one protocol, ``forward(x) -> y`` and
``backward(dy) -> dx``; the network only chains them and starts backward
from the cost's δ^L at the output layer, which is always a dense layer.

Layers with parameters are numbered 1, 2, ... as Nielsen numbers layers
(pooling and flattening do not count) and their parameters are named
``W1, b1, W2, ...`` (``alpha<l>`` for PReLU slopes). The dict returned by
``params`` holds the very arrays the layers compute with, so an optimizer
updating them in place updates the network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nnlab.costs import Cost
from nnlab.fastpath import FlatParameters
from nnlab.layers import Dense, Layer

Params = dict[str, np.ndarray]


class Network:
    """Layers ending in a dense output layer, trained against ``cost``.

    ``l2`` is the weight-decay coefficient λ/n (Nielsen's λ over the
    training-set size n): the cost gains (λ/2n) Σ_l ||W^l||², biases and
    PReLU slopes excluded.

    ``input_shape`` is one example's shape as the first layer takes it:
    ``(n_0,)`` for a dense first layer (the default, read from its W) or
    ``(H, W, C)`` for images (channels last); flat rows of data are reshaped
    to it.

    ``fast`` (the default) moves every parameter into one flat vector θ
    (``nnlab.fastpath``), which makes L2 and elementwise optimizers a few
    whole-vector operations per step; ``fast=False`` keeps the plain arrays.
    Both compute the same numbers bit for bit.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        cost: Cost,
        l2: float = 0.0,
        *,
        input_shape: Sequence[int] | None = None,
        fast: bool = True,
    ) -> None:
        self.layers = list(layers)
        self.cost = cost
        self.l2 = float(l2)
        out = self.layers[-1]
        if not isinstance(out, Dense):
            raise ValueError(f"the output layer must be dense, not {out.kind}")
        if cost.outputs is not None and out.activation.name not in cost.outputs:
            raise ValueError(f"cost {cost.name} needs a {'/'.join(cost.outputs)} output, not {out.activation.name}")
        if out.activation_params:
            # backward takes δ^L straight from the cost and never forms ∂C/∂a^L, so the
            # output activation's own parameters (PReLU slopes) would get no gradient
            raise ValueError(f"output activation {out.activation.name} has learned parameters: hidden layers only")
        if input_shape is None:
            first = self.layers[0]
            if not isinstance(first, Dense):
                raise ValueError(f"input_shape is needed when the first layer is {first.kind}")
            input_shape = (first.n_in,)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.shapes = self._check_shapes()
        self._number_layers()
        # layers before the first one with parameters, and that one, never need ∂C/∂x
        first_learning = next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        for layer in self.layers[: first_learning + 1]:
            layer.input_grad = False
        self._backward_layers = self.layers[first_learning:-1][::-1]  # hidden layers, last first
        names = {
            (i, local): f"{local}{layer.number}"
            for i, layer in enumerate(self.layers)
            for local in layer.params
            if local in layer.param_names
        }
        self.flat = FlatParameters.pack(self.layers, names) if fast else None
        self._decay_buffers: dict[tuple[int, str], np.ndarray] = {}  # the plain path's L2 work buffers
        #: rows per forward pass when evaluating or probing (``evaluate``, the instruments)
        self.eval_rows = self.default_eval_rows()
        self._params: Params = {}
        self._grads: Params = {}
        self.param_layers: dict[str, Layer] = {}  # parameter name -> its layer
        for layer in self.layers:
            for local, p in layer.params.items():
                name = f"{local}{layer.number}"
                self._params[name], self._grads[name] = p, layer.grads[local]
                self.param_layers[name] = layer

    def _check_shapes(self) -> list[tuple[int, ...]]:
        """Each layer's per-example input shape, then the output's; ValueError where one does not fit."""
        shapes = [self.input_shape]
        for layer in self.layers:
            shapes.append(tuple(layer.output_shape(shapes[-1])))
        return shapes

    def _number_layers(self) -> None:
        """Nielsen's l for layers with parameters; pooling and flatten take the number of the layer before."""
        l = 0
        for layer in self.layers:
            if layer.numbered:
                l += 1
            layer.number = l
        for layer in self.layers:
            layer.label = f"{layer.label_stem}{layer.number}" if layer.label_stem else layer.kind
        self.layers[-1].label = "output"

    # -- introspection -------------------------------------------------
    @property
    def learning_layers(self) -> list[Layer]:
        """The layers with parameters, in order: Nielsen's layers 1..L."""
        return [layer for layer in self.layers if layer.numbered]

    @property
    def sizes(self) -> list[int]:
        """Units per layer, input first: [784, 30, 10] (a convolutional layer counts H·W·F units)."""
        return [math.prod(shape) for i, shape in enumerate(self.shapes) if i == 0 or self.layers[i - 1].numbered]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def dtype(self) -> np.dtype:
        return self.learning_layers[0].W.dtype

    @property
    def params(self) -> Params:
        """Named parameter arrays (the live arrays, not copies)."""
        return self._params

    @property
    def grads(self) -> Params:
        """Gradients from the last ``backward`` (buffers reused by the next call)."""
        return self._grads

    def __repr__(self) -> str:
        inner = "\n".join(f"  {layer.label}: {layer!r}" for layer in self.layers)
        shape = (
            f"sizes={self.sizes}"
            if all(isinstance(x, Dense) for x in self.layers)
            else f"input={list(self.input_shape)}"
        )
        return f"Network({shape}, cost={self.cost!r}, l2={self.l2:g})\n{inner}"

    # -- forward / backward --------------------------------------------
    def forward(self, X: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """a^L for a batch X: (m, n_0), or (m, *input_shape); caches every layer's z and a."""
        a = X if X.shape[1:] == self.input_shape else X.reshape(len(X), *self.input_shape)
        for layer in self.layers:
            a = layer.forward(a, train=train, rng=rng)
        return a

    def backward(self, Y: np.ndarray) -> Params:
        """Gradients of the mean cost (L2 included) over the last forward batch.

        Y: one-hot targets (m, n_L). Fills and returns ``grads``. δ^L comes
        from the cost; each hidden layer turns ∂C/∂(its output) into its own
        gradients and ∂C/∂(its input). The first layer's ∂C/∂a^0 is never
        formed: nothing needs it.
        """
        out = self.layers[-1]
        delta = self.cost.delta(out.z, out.a, Y, out.activation)
        delta *= 1.0 / Y.shape[0]
        dy = out.backward_delta(delta)
        for layer in self._backward_layers:
            dy = layer.backward(dy)
        if self.l2:  # ∂C/∂W += (λ/n) W
            if self.flat is not None:
                self.flat.add_weight_decay(self.l2)
            else:
                for layer in self.learning_layers:
                    for name in layer.decayed:
                        W, tmp = getattr(layer, name), self._decay_buffer(layer, name)
                        np.multiply(W, self.l2, out=tmp)
                        getattr(layer, "g" + name)[...] += tmp
        return self._grads

    def _decay_buffer(self, layer: Layer, name: str) -> np.ndarray:
        """A work buffer shaped like ``layer``'s parameter ``name`` for the plain path's L2, made once."""
        key = (id(layer), name)
        if key not in self._decay_buffers:
            self._decay_buffers[key] = np.empty_like(getattr(layer, name))
        return self._decay_buffers[key]

    def deltas(self) -> list[np.ndarray]:
        """Nielsen's δ^l as the mean bias gradient of each learning layer after ``backward``."""
        return [layer.gb for layer in self.learning_layers]

    # -- cost, prediction ------------------------------------------------
    def l2_penalty(self) -> float:
        """(λ/2n) Σ ||W||²."""
        if not self.l2:
            return 0.0
        decayed = [getattr(layer, name) for layer in self.learning_layers for name in layer.decayed]
        return 0.5 * self.l2 * sum(float(np.vdot(W, W)) for W in decayed)

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
        return one_hot(y, self.n_outputs, self.dtype)

    def predict_proba(self, X: np.ndarray, batch: int | None = None) -> np.ndarray:
        """a^L for every row of X, in chunks (evaluation mode: no dropout)."""
        batch = batch or self.eval_rows
        return np.concatenate([self.forward(X[i : i + batch]) for i in range(0, len(X), batch)])

    def predict(self, X: np.ndarray, batch: int | None = None) -> np.ndarray:
        return self.predict_proba(X, batch).argmax(axis=1)

    #: numbers a forward pass may hold at once while evaluating (16 MB of float32), unless told otherwise
    EVAL_BUDGET = 1 << 22

    def default_eval_rows(self) -> int:
        """Rows per evaluation chunk that fit ``EVAL_BUDGET`` (caches and im2col patches), 1..10,000.

        ``nnlab.experiment`` sets ``eval_rows`` from the run's memory estimate
        instead (``nnlab.memory.config_eval_rows``), so a run holds what its
        estimate counts.
        """
        per_row = sum(3 * math.prod(shape) for shape in self.shapes)
        for layer, shape in zip(self.layers, self.shapes):  # and each layer's scratch: a conv layer's patches
            per_row += layer.footprint(shape, **layer.hyperparams())[2]
        return max(1, min(10_000, self.EVAL_BUDGET // per_row))

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch: int | None = None) -> tuple[float, float]:
        """(loss, accuracy) over a dataset: loss = mean cost + L2 penalty; in chunks of ``batch``
        (default ``eval_rows``) rows."""
        batch = batch or self.eval_rows
        total, correct = 0.0, 0
        for i in range(0, len(X), batch):
            Xb, yb = X[i : i + batch], y[i : i + batch]
            a = self.forward(Xb)
            out = self.layers[-1]
            total += float(self.cost.fn(out.z, a, one_hot(yb, self.n_outputs, self.dtype)).sum())
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
