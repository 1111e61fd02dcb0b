"""The fast path: every parameter in one flat vector θ, updated in cache-sized blocks.

The textbook path keeps each layer's W and b as arrays of their own: L2 adds
(λ/n) W to each layer's ∂C/∂W, and an optimizer updates each named array in
turn. Numerically nothing changes when all of them live in one vector θ, but
the step then costs a few whole-vector operations instead of a few per array,
which counts on small networks (Nielsen's 784-30-...-10 nets take about 65
NumPy calls a step):

- ``FlatParameters`` moves every layer's parameters and gradient buffers into
  θ and ∂C/∂θ (the layers' attributes become views of them, so the layers
  compute as before), weights first, so L2 is one operation on all weights;
- ``FlatUpdate`` applies an elementwise optimizer to θ in blocks of
  ``BLOCK`` elements, so each block's g, state and θ stay in cache across the
  rule's several passes, with the optimizer's own ``update`` (no second copy
  of any rule).

Both give bit-identical parameters to the plain path
(tests/test_fastpath.py checks every optimizer). ``Network(..., fast=False)``
and ``train(..., fast=False)`` take the plain path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nnlab.network import Network
    from nnlab.optimizers import Optimizer, Params, State

_ALIGN = 16  # elements: each parameter starts on a 64-byte boundary of θ (float32)


class FlatParameters:
    """θ and ∂C/∂θ for a list of layers; their parameter attributes become views of these.

    Returns None from ``pack`` when it does not apply: a layer with learned
    activation parameters (PReLU, whose slopes live in the activation) or
    parameters of mixed dtypes.
    """

    def __init__(self, layers: list, names: dict[tuple[int, str], str]) -> None:
        # (layer index, local name) -> network name; weights (decayed) first, then the rest
        order = sorted(names, key=lambda key: key[1] not in layers[key[0]].decayed)
        self.layout: dict[str, tuple[int, tuple[int, ...]]] = {}
        offset = 0
        for i, local in order:
            shape = getattr(layers[i], local).shape
            self.layout[names[i, local]] = (offset, shape)
            offset += -(-math.prod(shape) // _ALIGN) * _ALIGN
        dtype = getattr(layers[order[0][0]], order[0][1]).dtype
        self.params, self.grads = np.zeros(offset, dtype), np.zeros(offset, dtype)
        n_decayed = 0
        for i, local in order:
            name = names[i, local]
            view = self.view(self.params, name)
            view[...] = getattr(layers[i], local)
            setattr(layers[i], local, view)
            setattr(layers[i], "g" + local, self.view(self.grads, name))
            if local in layers[i].decayed:
                n_decayed = self.layout[name][0] + math.prod(self.layout[name][1])
        self._decayed, self._decayed_grads = self.params[:n_decayed], self.grads[:n_decayed]
        self._decay_tmp = np.empty_like(self._decayed)

    @classmethod
    def pack(cls, layers: list, names: dict[tuple[int, str], str]) -> FlatParameters | None:
        if not names or any(getattr(layer, "activation_params", None) for layer in layers):
            return None
        if len({getattr(layers[i], local).dtype for i, local in names}) != 1:
            return None
        return cls(layers, names)

    def view(self, flat: np.ndarray, name: str) -> np.ndarray:
        """The part of a θ-shaped vector that belongs to parameter ``name``, shaped like it."""
        offset, shape = self.layout[name]
        return flat[offset : offset + math.prod(shape)].reshape(shape)

    def add_weight_decay(self, l2: float) -> None:
        """∂C/∂W += l2 · W for every decayed parameter at once."""
        np.multiply(self._decayed, l2, out=self._decay_tmp)
        self._decayed_grads += self._decay_tmp


class FlatUpdate:
    """θ ← θ + Δθ for an elementwise optimizer, applied to the network's flat θ.

    Same arithmetic as ``optimizer.update`` per named array followed by
    ``apply_updates`` (bit for bit), but as a few operations on the whole
    parameter vector in blocks. The optimizer state's named arrays become
    views of one flat vector per slot (values copied in), so they stay live
    and savable under their usual names.
    """

    BLOCK = 1 << 17

    def __init__(self, net: Network, optimizer: Optimizer, opt_state: State) -> None:
        flat = net.flat
        self.optimizer, self.opt_state = optimizer, opt_state
        n = len(flat.params)
        self.flat_state: dict[str, np.ndarray] = {}
        for slot in optimizer.slots:
            buf = np.zeros_like(flat.params)
            for k in net.params:
                view = flat.view(buf, k)
                view[...] = opt_state[f"{slot}.{k}"]
                opt_state[f"{slot}.{k}"] = view
            self.flat_state[slot] = buf
        # per block: (g, θ, the rule's state), views made once
        self.blocks = [
            (
                flat.grads[i : i + self.BLOCK],
                flat.params[i : i + self.BLOCK],
                {f"{slot}.θ": buf[i : i + self.BLOCK] for slot, buf in self.flat_state.items()},
            )
            for i in range(0, n, self.BLOCK)
        ]
        # Δθ is left in the gradient buffer (the built-in rules reuse it), seen by name like the grads
        self.updates: Params = {k: flat.view(flat.grads, k) for k in net.params}

    @classmethod
    def make(cls, net: Network, optimizer: Optimizer, opt_state: State) -> FlatUpdate | None:
        """A FlatUpdate when the network has a flat θ and the optimizer and its state allow it, else None."""
        if net.flat is None or not getattr(optimizer, "elementwise", False):
            return None
        slots = [f"{slot}.{k}" for slot in optimizer.slots for k in net.params]
        if set(opt_state) != set(slots) | {"t"} or not isinstance(opt_state["t"], np.ndarray):
            return None
        for slot in optimizer.slots:
            for k, p in net.params.items():
                a = opt_state[f"{slot}.{k}"]
                if not isinstance(a, np.ndarray) or a.shape != p.shape:
                    return None
        return cls(net, optimizer, opt_state)

    def step(self) -> Params:
        t = self.opt_state["t"]
        for g, theta, state in self.blocks:
            # each block is one call of the ordinary rule, on a copy of the step count t
            state["t"] = t.copy()
            u = self.optimizer.update({"θ": g}, state)["θ"]
            theta += u
            if u.base is not g.base:  # a rule that returned a new array: keep Δθ where ``updates`` looks
                g[...] = u
        t[...] = state["t"]
        return self.updates
