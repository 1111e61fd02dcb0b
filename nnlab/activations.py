"""Activation functions and their derivatives, side by side.

Each activation maps ``z`` to ``a = f(z)`` elementwise and gives ``f'(z)``,
written from the cached output ``a`` where that is cheaper (sigmoid
``a(1-a)``, tanh ``1-a²``). Arrays are batch-first: ``z, a: (m, n_units)``.

An activation declares its hyperparameters once, in ``hyper``
(``nnlab.hyper``: type, default, bounds), and where it may stand, in
``role``; the config checks a user's values and places against these, and
the constructor takes its values from them. An activation with learned
parameters (PReLU's slope per unit) declares them in ``init_params`` and
returns their gradient from ``param_grads``; the network names them like any
weight (``alpha1`` for layer 1) so optimizers, L2-free updates and saving
treat them as ordinary parameters.

Adding an activation: one class with ``f``, ``df`` and its ``hyper``, plus
``@ACTIVATIONS.register("name")``.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.hyper import Hyper, resolve
from nnlab.registry import Registry

ACTIVATIONS: Registry[type[Activation]] = Registry("activation")


class Activation:
    """Base class: ``f(z) -> a`` and ``df(z, a) -> f'(z)``."""

    name = "activation"
    #: its hyperparameters, by the name the config and the constructor use
    hyper: dict[str, Hyper] = {}
    #: where the config allows it: "any" layer, "hidden" layers only, or the "output" layer only
    role = "any"
    #: True where f'(z) falls towards 0 for large |z| (saturation instruments)
    saturating = False
    #: True where f'(z) is exactly 0 for z < 0 (dead-unit instruments)
    rectifying = False
    #: max of |f'(z)| over z, used to define "saturated" as f'(z) < 1% of it
    max_slope = 1.0

    def __init__(self, **hyper: float) -> None:
        """Each declared hyperparameter becomes an attribute: the value given, or its default."""
        for key, value in resolve(self.name, self.hyper, hyper).items():
            setattr(self, key, value)

    def f(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backprop(self, z: np.ndarray, a: np.ndarray, dC_da: np.ndarray) -> np.ndarray:
        """δ = ∂C/∂a ⊙ f'(z), as a new array (``dC_da`` is left alone).

        The default multiplies by ``df``; activations whose f'(z) is cheap to
        fold in override it to save a temporary.
        """
        return dC_da * self.df(z, a)

    # learned parameters (only PReLU has any)
    def init_params(self, n_units: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        return {}

    def param_grads(self, z: np.ndarray, dC_da: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def hyperparams(self) -> dict[str, float]:
        """This activation's values of its declared hyperparameters."""
        return {key: getattr(self, key) for key in self.hyper}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparams().items())
        return f"{type(self).__name__}({args})"


_CONSTS: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


def half_one(dtype) -> tuple:
    """½ and 1 as 0-d arrays of a float ``dtype`` (Python floats otherwise).

    Same values and results as the Python floats, but NumPy handles them
    faster as operands, which counts on the small arrays of a mini-batch step.
    """
    c = _CONSTS.get(dtype)
    if c is None:
        if dtype is None or np.dtype(dtype).kind != "f":
            return 0.5, 1.0
        c = _CONSTS[dtype] = (np.array(0.5, dtype), np.array(1.0, dtype))
    return c


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1+e^{-z}), computed as ½(1 + tanh(z/2)): no overflow at any |z|."""
    half, one = half_one(getattr(z, "dtype", None))
    a = np.multiply(z, half)
    np.tanh(a, out=a)
    a += one
    a *= half
    return a


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}): stable for any |z|."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Activation):
    name = "sigmoid"
    saturating = True
    max_slope = 0.25

    def f(self, z):
        return sigmoid(z)

    def df(self, z, a):
        return a * (1.0 - a)

    def backprop(self, z, a, dC_da):
        d = np.subtract(half_one(a.dtype)[1], a)  # σ'(z) = a(1 - a), then ⊙ ∂C/∂a, in one buffer
        d *= a
        d *= dC_da
        return d


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    name = "tanh"
    saturating = True

    def f(self, z):
        return np.tanh(z)

    def df(self, z, a):
        return 1.0 - a * a

    def backprop(self, z, a, dC_da):
        d = np.multiply(a, a)  # tanh'(z) = 1 - a², then ⊙ ∂C/∂a, in one buffer
        np.subtract(half_one(d.dtype)[1], d, out=d)
        d *= dC_da
        return d


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    name = "relu"
    rectifying = True

    def f(self, z):
        return np.maximum(z, 0)

    def df(self, z, a):
        return (z > 0).astype(z.dtype)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    """f(z) = z for z > 0, slope·z otherwise."""

    name = "leaky_relu"
    hyper = {"slope": Hyper(float, 0.01, doc="slope for z < 0")}

    def f(self, z):
        return np.where(z > 0, z, self.slope * z)

    def df(self, z, a):
        return np.where(z > 0, 1.0, self.slope).astype(z.dtype)


@ACTIVATIONS.register("prelu")
class PReLU(Activation):
    """Leaky ReLU with a learned slope α_i per unit: f(z) = z (z > 0), α_i z otherwise.

    ∂f/∂z = 1 or α_i;  ∂C/∂α_i = Σ_x ∂C/∂a_i · min(z_i, 0).
    The slope array lives in the network's parameters as ``alpha<l>``.
    """

    name = "prelu"
    hyper = {"init": Hyper(float, 0.25, doc="initial value of the learned slope")}
    #: a learned slope per output unit is not an output non-linearity
    role = "hidden"

    def __init__(self, **hyper: float) -> None:
        super().__init__(**hyper)
        self.alpha: np.ndarray | None = None  # bound by the layer

    def init_params(self, n_units, dtype):
        self.alpha = np.full(n_units, self.init, dtype=dtype)
        return {"alpha": self.alpha}

    def f(self, z):
        return np.where(z > 0, z, self.alpha * z)

    def df(self, z, a):
        return np.where(z > 0, np.ones_like(z), self.alpha)

    def param_grads(self, z, dC_da):
        return {"alpha": (dC_da * np.minimum(z, 0)).sum(axis=0)}


@ACTIVATIONS.register("elu")
class ELU(Activation):
    """f(z) = z (z > 0), alpha (e^z - 1) otherwise;  f'(z) = 1 or f(z) + alpha."""

    name = "elu"
    hyper = {"alpha": Hyper(float, 1.0, gt=0, doc="f(z) tends to -alpha as z falls")}

    def f(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def df(self, z, a):
        return np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype)


@ACTIVATIONS.register("softplus")
class Softplus(Activation):
    """f(z) = log(1 + e^z);  f'(z) = σ(z)."""

    name = "softplus"

    def f(self, z):
        return softplus(z)

    def df(self, z, a):
        return sigmoid(z)


@ACTIVATIONS.register("swish")
class Swish(Activation):
    """f(z) = z σ(βz);  f'(z) = σ(βz) + βz σ(βz)(1 - σ(βz)) = βf + σ(βz)(1 - βf)."""

    name = "swish"
    hyper = {"beta": Hyper(float, 1.0, gt=0, doc="sharpness of the gate σ(βz)")}

    def f(self, z):
        return z * sigmoid(self.beta * z)

    def df(self, z, a):
        s = sigmoid(self.beta * z)
        return self.beta * a + s * (1.0 - self.beta * a)


_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)


def _std_normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½(1 + erf(z/√2)); math.erf vectorised (NumPy has no erf ufunc)."""
    return (0.5 * (1.0 + _erf(z / _SQRT2).astype(z.dtype))).astype(z.dtype)


@ACTIVATIONS.register("gelu")
class GELU(Activation):
    """Exact GELU: f(z) = z Φ(z);  f'(z) = Φ(z) + z φ(z)."""

    name = "gelu"

    def f(self, z):
        return z * _std_normal_cdf(z)

    def df(self, z, a):
        # z φ(z) is exactly 0 beyond |z| = 40 (φ underflows); clipping there keeps z² from
        # overflowing (float32 at |z| > 1.8e19) without changing any result
        zc = np.clip(z, -40.0, 40.0)
        return _std_normal_cdf(z) + zc * _INV_SQRT_2PI * np.exp(-0.5 * zc * zc)


_GELU_C = math.sqrt(2.0 / math.pi)


@ACTIVATIONS.register("gelu_tanh")
class GELUTanh(Activation):
    """GELU, tanh approximation: f(z) = ½z(1 + tanh(u)),  u = √(2/π)(z + 0.044715 z³)."""

    name = "gelu_tanh"

    # tanh(u) is exactly ±1 beyond |z| = 100, so u is computed from z clipped there: the
    # same results, and z³ cannot overflow (float32 at |z| > 7e12)
    _CLIP = 100.0

    def f(self, z):
        zc = np.clip(z, -self._CLIP, self._CLIP)
        return 0.5 * z * (1.0 + np.tanh(_GELU_C * (zc + 0.044715 * zc**3)))

    def df(self, z, a):
        zc = np.clip(z, -self._CLIP, self._CLIP)
        t = np.tanh(_GELU_C * (zc + 0.044715 * zc**3))
        du = _GELU_C * (1.0 + 3 * 0.044715 * zc * zc)
        return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * du  # the second term is 0 beyond the clip


@ACTIVATIONS.register("identity")
class Identity(Activation):
    name = "identity"

    def f(self, z):
        return z

    def df(self, z, a):
        return np.ones_like(z)


@ACTIVATIONS.register("softmax")
class Softmax(Activation):
    """Output layer only: a_j = e^{z_j} / Σ_k e^{z_k}, computed from z - max(z).

    Its Jacobian is not diagonal, so ``df`` is not defined; the costs that
    use a softmax output (log-likelihood, quadratic) compute δ^L themselves.
    """

    name = "softmax"
    #: its Jacobian is not diagonal: only the cost can compute δ^L through it
    role = "output"

    def f(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e

    def df(self, z, a):
        raise TypeError("softmax has no elementwise derivative; the cost computes δ^L")


def make_activation(name: str, **params: float) -> Activation:
    """Build an activation by registry name (unknown name: UserError listing valid ones)."""
    return ACTIVATIONS.get(name)(**params)
