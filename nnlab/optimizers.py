"""Optimizers as pure update rules with their state held outside the network.

Like optax: ``state = opt.init(params)``, then each step
``updates = opt.update(grads, state)`` and ``apply_updates(params, updates)``.
The state is a flat ``dict[str, ndarray]`` (``"v.W1"``, ``"r.b2"``, ``"t"``),
so it can be saved to ``.npz``, inspected and tested. ``update`` advances the
state in place and may reuse the gradient arrays as the update arrays (the
gradients are consumed). Notation of docs/protocols.md#engine (Goodfellow et
al., *Deep Learning*, ch. 8): g = mean mini-batch gradient, ε = ``learning_rate``.

Each optimizer declares its hyperparameters once, in ``hyper``
(``nnlab.hyper``: type, default, bounds), and its learning rate when none is
given, in ``default_learning_rate``; the config checks, fills in and dumps
them from there, and the constructor takes its values from them.

Adding an optimizer: one subclass with ``init``/``update`` and its ``hyper``,
and one ``@OPTIMIZERS.register("name")``.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.hyper import Hyper, resolve
from nnlab.registry import Registry

Params = dict[str, np.ndarray]
State = dict[str, np.ndarray]

OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


class Optimizer:
    name = "optimizer"
    #: its hyperparameters besides the learning rate, which every optimizer takes
    hyper: dict[str, Hyper] = {}
    #: ε when none is given: network2's η = 0.1 (SGD and momentum keep it)
    default_learning_rate = 0.1
    #: per-parameter state slots, each initialised to zeros like the parameter
    slots: tuple[str, ...] = ()
    #: True when the rule acts element by element (no norms, no per-name logic), so that it
    #: may be applied to all parameters concatenated into one vector, or to pieces of it
    elementwise = False

    def __init__(self, learning_rate: float | None = None, **hyper: float | bool) -> None:
        """``learning_rate`` (default: ``default_learning_rate``) and each declared hyperparameter
        become attributes: the value given, or its default."""
        self.learning_rate = self.default_learning_rate if learning_rate is None else learning_rate
        for key, value in resolve(self.name, self.hyper, hyper).items():
            setattr(self, key, value)

    def init(self, params: Params) -> State:
        state = {f"{slot}.{k}": np.zeros_like(p) for slot in self.slots for k, p in params.items()}
        state["t"] = np.zeros((), dtype=np.int64)  # steps taken
        return state

    def update(self, grads: Params, state: State) -> Params:
        raise NotImplementedError

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A work buffer shaped like ``like``, reused across steps (it carries nothing between them)."""
        bufs = self.__dict__.setdefault("_buffers", {})
        key = (like.shape, like.dtype)
        buf = bufs.get(key)
        if buf is None:
            buf = bufs[key] = np.empty_like(like)
        return buf

    def hyperparams(self) -> dict[str, float]:
        """The learning rate and this optimizer's values of its declared hyperparameters."""
        return {"learning_rate": self.learning_rate, **{k: getattr(self, k) for k in self.hyper}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams().items())
        return f"{type(self).__name__}({args})"


def apply_updates(params: Params, updates: Params) -> None:
    """θ ← θ + Δθ, in place (the network's layers see the new values)."""
    for k, u in updates.items():
        params[k] += u


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """θ ← θ - ε g."""

    name = "sgd"
    elementwise = True

    def update(self, grads, state):
        state["t"] += 1
        for g in grads.values():
            g *= -self.learning_rate
        return grads


@OPTIMIZERS.register("momentum")
class Momentum(Optimizer):
    """v ← αv - εg;  θ ← θ + v.  Nesterov: θ ← θ + αv - εg (with the new v)."""

    name = "momentum"
    slots = ("v",)
    elementwise = True
    hyper = {
        "momentum": Hyper(float, 0.9, ge=0, lt=1, doc="α, the fraction of v kept each step"),
        "nesterov": Hyper(bool, False, doc="Nesterov's look-ahead step"),
    }

    def update(self, grads, state):
        state["t"] += 1
        updates = {}
        for k, g in grads.items():
            v = state[f"v.{k}"]
            g *= -self.learning_rate  # g is now -εg
            v *= self.momentum
            v += g
            if self.nesterov:
                g += np.multiply(v, self.momentum, out=self._scratch(v))
            else:
                np.copyto(g, v)  # Δθ = v, in g's buffer
            updates[k] = g
        return updates


@OPTIMIZERS.register("adagrad")
class AdaGrad(Optimizer):
    """r ← r + g²;  θ ← θ - ε g / (δ + √r)."""

    name = "adagrad"
    slots = ("r",)
    elementwise = True
    default_learning_rate = 0.01
    hyper = {"delta": Hyper(float, 1e-7, gt=0, doc="δ, keeps the division finite")}

    def update(self, grads, state):
        state["t"] += 1
        for k, g in grads.items():
            r = state[f"r.{k}"]
            r += np.multiply(g, g, out=self._scratch(g))
            g *= -self.learning_rate
            g /= self.delta + np.sqrt(r)
        return grads


@OPTIMIZERS.register("rmsprop")
class RMSProp(Optimizer):
    """r ← ρr + (1-ρ)g²;  θ ← θ - ε g / √(δ + r)."""

    name = "rmsprop"
    slots = ("r",)
    elementwise = True
    default_learning_rate = 0.001
    hyper = {
        "rho": Hyper(float, 0.9, ge=0, lt=1, doc="ρ, decay of the average of g²"),
        "delta": Hyper(float, 1e-6, gt=0, doc="δ, keeps the division finite"),
    }

    def update(self, grads, state):
        state["t"] += 1
        for k, g in grads.items():
            r = state[f"r.{k}"]
            r *= self.rho
            tmp = np.multiply(g, 1.0 - self.rho, out=self._scratch(g))
            tmp *= g
            r += tmp
            g *= -self.learning_rate
            g /= np.sqrt(self.delta + r)
        return grads


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """s ← ρ1 s + (1-ρ1) g;  r ← ρ2 r + (1-ρ2) g²;  ŝ = s/(1-ρ1^t);  r̂ = r/(1-ρ2^t);
    θ ← θ - ε ŝ / (√r̂ + δ)."""

    name = "adam"
    slots = ("s", "r")
    elementwise = True
    #: the usual published default (0.1 makes Adam diverge)
    default_learning_rate = 0.001
    hyper = {
        "rho1": Hyper(float, 0.9, ge=0, lt=1, doc="ρ1, decay of the average of g"),
        "rho2": Hyper(float, 0.999, ge=0, lt=1, doc="ρ2, decay of the average of g²"),
        "delta": Hyper(float, 1e-8, gt=0, doc="δ, keeps the division finite"),
    }

    def update(self, grads, state):
        state["t"] += 1
        t = int(state["t"])
        c1 = 1.0 - self.rho1**t
        c2 = 1.0 - self.rho2**t
        for k, g in grads.items():
            s, r = state[f"s.{k}"], state[f"r.{k}"]
            tmp = self._scratch(g)
            s *= self.rho1
            s += np.multiply(g, 1.0 - self.rho1, out=tmp)
            r *= self.rho2
            np.multiply(g, 1.0 - self.rho2, out=tmp)
            tmp *= g
            r += tmp
            # g is reused as the update buffer: -ε ŝ / (√r̂ + δ) = -(ε √c2 / c1) s / (√r + δ √c2),
            # the bias corrections folded into two scalars (one pass over the arrays fewer)
            np.sqrt(r, out=g)
            g += self.delta * math.sqrt(c2)
            np.divide(s, g, out=g)
            g *= -self.learning_rate * math.sqrt(c2) / c1
        return grads


def make_optimizer(name: str, **hyperparams: float) -> Optimizer:
    """Build an optimizer by registry name (unknown name: UserError listing valid ones)."""
    return OPTIMIZERS.get(name)(**hyperparams)


def global_norm(grads: Params) -> float:
    """√(Σ_k ||g_k||²) over every parameter's gradient."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_by_global_norm(grads: Params, max_norm: float) -> float:
    """Scale all gradients by max_norm/‖g‖ when ‖g‖ > max_norm (in place); returns ‖g‖ before."""
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
