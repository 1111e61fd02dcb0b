"""Initial values for weights and biases, drawn from an explicit Generator.

An initializer is ``fn(rng, shape, n_in, n_out, **params) -> float64 array``;
the network casts to its dtype, so float32 and float64 runs with the same
seed start from the same numbers. Weights have shape ``(n_in, n_out)``,
biases ``(n_out,)``. Its ``params`` are declared once, at the registration
(``hyper=``, see ``nnlab.hyper``), and are keyword-only without defaults:
the config passes every one, its default filled in from the declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnlab.hyper import Hyper
from nnlab.registry import Registry

Initializer = Callable[..., np.ndarray]
INITIALIZERS: Registry[Initializer] = Registry("initializer")


@INITIALIZERS.register("nielsen")
def nielsen(rng: np.random.Generator, shape, n_in: int, n_out: int) -> np.ndarray:
    """N(0, 1/n_in): network2's default weight initializer."""
    return rng.standard_normal(shape) / math.sqrt(n_in)


@INITIALIZERS.register("network3")
def network3(rng, shape, n_in, n_out):
    """N(0, 1/n_out): network3.py's weights (Nielsen ch. 6). For a conv layer followed by
    max-pooling, n_out counts the units each input reaches after the pooling: F·k²/(pool area)."""
    return rng.standard_normal(shape) / math.sqrt(n_out)


@INITIALIZERS.register("large")
def large(rng, shape, n_in, n_out):
    """N(0, 1): network2's ``large_weight_initializer`` (saturates sigmoid units)."""
    return rng.standard_normal(shape)


@INITIALIZERS.register("standard_normal")
def standard_normal(rng, shape, n_in, n_out):
    """N(0, 1): network2's bias initializer."""
    return rng.standard_normal(shape)


@INITIALIZERS.register("he")
def he(rng, shape, n_in, n_out):
    """N(0, 2/n_in) (He et al. 2015), for ReLU layers."""
    return rng.standard_normal(shape) * math.sqrt(2.0 / n_in)


@INITIALIZERS.register("glorot_normal")
def glorot_normal(rng, shape, n_in, n_out):
    """N(0, 2/(n_in + n_out)) (Glorot & Bengio 2010)."""
    return rng.standard_normal(shape) * math.sqrt(2.0 / (n_in + n_out))


@INITIALIZERS.register("glorot_uniform")
def glorot_uniform(rng, shape, n_in, n_out):
    """U(-r, r) with r = √(6/(n_in + n_out))."""
    r = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=shape)


@INITIALIZERS.register("normal", hyper={"std": Hyper(float, 0.01, gt=0, doc="standard deviation")})
def normal(rng, shape, n_in, n_out, *, std: float):
    """N(0, std²) with a fixed std."""
    return rng.standard_normal(shape) * std


@INITIALIZERS.register("zeros")
def zeros(rng, shape, n_in, n_out):
    return np.zeros(shape)


@INITIALIZERS.register("constant", hyper={"value": Hyper(float, 0.0, doc="every entry")})
def constant(rng, shape, n_in, n_out, *, value: float):
    """Every entry = value (the exploding-chain construction of R5 uses it)."""
    return np.full(shape, float(value))
