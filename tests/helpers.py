"""Tiny builders shared by the engine tests: networks, data, finite differences.

Imported as ``from helpers import ...`` (pytest puts ``tests/`` on sys.path).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from nnlab.activations import make_activation
from nnlab.costs import make_cost
from nnlab.initializers import INITIALIZERS
from nnlab.layers import Dense
from nnlab.network import Network


def build_net(
    sizes: Sequence[int],
    activations: str | Sequence[str] = "sigmoid",
    cost: str = "cross_entropy",
    *,
    reduction: str = "sum",
    seed: int = 0,
    dtype=np.float64,
    l2: float = 0.0,
    dropout: float | Sequence[float] = 0.0,
    weight_init: str = "nielsen",
    bias_init: str = "standard_normal",
    fast: bool = True,
) -> Network:
    """A Network with one activation name per layer (a single name: every layer).

    Weights and biases come from ``np.random.default_rng(seed)`` via the
    registered initializers, cast to ``dtype``. PReLU slopes are spread over
    (0.1, 0.4) so a gradient check sees distinct per-unit values.
    """
    n_layers = len(sizes) - 1
    acts = [activations] * n_layers if isinstance(activations, str) else list(activations)
    drops = [dropout] * n_layers if isinstance(dropout, (int, float)) else list(dropout)
    assert len(acts) == n_layers and len(drops) == n_layers
    rng = np.random.default_rng(seed)
    w_init, b_init = INITIALIZERS.get(weight_init), INITIALIZERS.get(bias_init)
    layers = []
    for n_in, n_out, act_name, p in zip(sizes[:-1], sizes[1:], acts, drops):
        W = w_init(rng, (n_in, n_out), n_in, n_out).astype(dtype)
        b = b_init(rng, (n_out,), n_in, n_out).astype(dtype)
        layer = Dense(W, b, make_activation(act_name), dropout=p)
        if "alpha" in layer.activation_params:
            layer.activation_params["alpha"][...] = rng.uniform(0.1, 0.4, n_out)
        layers.append(layer)
    return Network(layers, make_cost(cost, reduction), l2=l2, fast=fast)


def blobs(n_per_class: int, centers: np.ndarray, std: float, seed: int, dtype=np.float64):
    """Gaussian blobs: X (n, d) and integer labels y (n,), shuffled."""
    rng = np.random.default_rng(seed)
    k, d = centers.shape
    X = np.concatenate([c + std * rng.standard_normal((n_per_class, d)) for c in centers])
    y = np.repeat(np.arange(k), n_per_class)
    perm = rng.permutation(len(y))
    return X[perm].astype(dtype), y[perm]


def numerical_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``x`` (perturbed in place)."""
    g = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f()
        x[idx] = old - h
        f_minus = f()
        x[idx] = old
        g[idx] = (f_plus - f_minus) / (2 * h)
    return g


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a - n‖ / (‖a‖ + ‖n‖), 0 when both vanish."""
    num = float(np.linalg.norm(analytic - numeric))
    den = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return 0.0 if den == 0.0 else num / den


@contextmanager
def strict_fp() -> Iterator[None]:
    """Fail on any floating-point trouble: warnings become errors; NumPy overflow,
    invalid (NaN-producing) and divide-by-zero raise FloatingPointError.

    Underflow stays at NumPy's default ("ignore"): exp(-1000) rounding to 0 is the
    correctly rounded IEEE result, not a fault, and never shows a user a warning.
    """
    with np.errstate(all="raise", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
