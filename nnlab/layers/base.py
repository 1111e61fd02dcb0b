"""The layer protocol: what every layer kind provides, and the registry of kinds.

A layer maps a batch ``x`` to ``y`` and back:

- ``forward(x, train, rng) -> y`` caches what ``backward`` needs;
- ``backward(dy) -> dx`` takes ∂C/∂y for the last forward batch (the mean
  cost's gradient, so ``dy`` already carries the 1/m), fills the layer's own
  gradient buffers and returns ∂C/∂x (``None`` when ``input_grad`` is False:
  the network's first layers, whose input is the data, skip it);
- ``params`` / ``grads``: the live parameter arrays and their gradient
  buffers by local name (``W``, ``b``); the network prefixes nothing and
  suffixes the layer's number (``W1``, ``b1``);
- ``output_shape(input_shape)``: the shape of one example's output.

Arrays are batch-first: rows (axis 0) are examples. Image-like arrays are
channels-last, one example being ``(H, W, C)``.

A layer keeps each parameter in an attribute of that name and its gradient
in ``g`` + name (``W`` and ``gW``), so code reads like the textbook and the
network (or the fast path) can re-home both as views of one flat vector.

Adding a layer kind: one subclass here or in a sibling module, plus
``@LAYERS.register("kind")``.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.hyper import Hyper
from nnlab.registry import Registry

Shape = tuple[int, ...]

LAYERS: Registry[type[Layer]] = Registry("layer kind")


class Layer:
    """Base class of every layer kind (see the module docstring for the protocol)."""

    kind = "layer"
    #: attributes holding parameters; each has its gradient buffer in ``"g" + name``
    param_names: tuple[str, ...] = ()
    #: parameters that L2 weight decay shrinks (weights, not biases)
    decayed: tuple[str, ...] = ()
    #: does this layer learn its parameters from a δ (counts in Nielsen's layer numbering)?
    numbered = False
    #: its label is this plus the number of the layer (pool1 follows conv1); "" for no number
    label_stem = ""
    #: the hyperparameters a config gives this kind (``model.layers[i].<name>``)
    hyper: dict[str, Hyper] = {}
    #: the per-layer settings it also takes from a config: "activation", "init", "dropout"
    settings: tuple[str, ...] = ()
    #: takes one flat vector per example: after an image-shaped layer it gets a flatten first
    flat_input = False
    #: may carry an activation with learned parameters (PReLU's slope per unit)
    learned_activation = False

    def __init__(self) -> None:
        self.input_grad = True  # the network sets False where ∂C/∂x is never needed
        self.label = self.kind  # set by the network: "dense1", "conv2", "pool1", "output"

    def forward(self, x: np.ndarray, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """One example's output shape for inputs of ``input_shape`` (ValueError where they do not fit)."""
        return self.shape_after(input_shape, **self.hyperparams())

    def hyperparams(self) -> dict:
        """This layer's values of its declared hyperparameters."""
        return {name: getattr(self, name) for name in self.hyper}

    @classmethod
    def shape_after(cls, input_shape: Shape, **hyper) -> Shape:
        """The output shape of a layer of this kind with ``hyper`` (no layer needed: config checks use it)."""
        return tuple(input_shape)

    @classmethod
    def footprint(cls, input_shape: Shape, **hyper) -> tuple[int, int, int]:
        """What a layer of this kind on ``input_shape`` holds: (parameters, outputs kept per example,
        scratch numbers per example beyond them), for memory estimates and evaluation chunks."""
        return 0, math.prod(cls.shape_after(input_shape, **hyper)), 0

    @classmethod
    def create(cls, input_shape: Shape, hyper: dict, parts: LayerParts) -> Layer:
        """A new layer of this kind for inputs of ``input_shape``, its parameters drawn from ``parts.rng``."""
        return cls(**hyper)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Parameters by local name (the live arrays)."""
        return {name: getattr(self, name) for name in self.param_names}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradient buffers by local name, filled by ``backward``."""
        return {name: getattr(self, "g" + name) for name in self.param_names}

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ShapeError(ValueError):
    """A layer that does not fit its input; ``key`` names the hyperparameter at fault (``kernel``)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class LayerParts:
    """What ``Layer.create`` may need beyond the hyperparameters: the built activation, the
    initializers (``fn(rng, shape, n_in, n_out)``), the dropout rate, the Generator and the dtype."""

    def __init__(self, rng, dtype, activation=None, weights=None, biases=None, dropout: float = 0.0,
                 fan_out_divisor: int = 1) -> None:  # fmt: skip
        self.rng, self.dtype = rng, np.dtype(dtype)
        self.activation, self.weights, self.biases, self.dropout = activation, weights, biases, dropout
        #: network3 counts a conv layer's fan-out after the pooling that follows it (n_out = F·k²/pool area)
        self.fan_out_divisor = fan_out_divisor

    def draw(self, shape: Shape, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """W of ``shape`` then b (one per output unit), in float64 then cast: float32 and float64 runs start alike."""
        W = self.weights(self.rng, shape, n_in, n_out).astype(self.dtype)
        b = self.biases(self.rng, (shape[-1],), n_in, n_out).astype(self.dtype)
        return W, b


def n_units(shape: Shape) -> int:
    """Numbers per example in an array of this per-example shape."""
    return math.prod(shape)
