"""The training loop: epochs of reshuffled mini-batches, evaluation each epoch, hooks.

The loop prints nothing and writes no files. Everything that watches
training (instruments, progress display, checkpoints, early stopping) is a
``Hook`` called at these events:

- ``on_train_start(state)``: before the first step (the untrained network);
- ``on_gradients(state)``: after backward (and clipping), before the update;
  ``state.grads`` holds this step's gradients;
- ``on_step_end(state)``: after the update; ``state.updates`` holds Δθ;
- ``on_epoch_end(state)``: after the epoch's evaluation; ``state.metrics``;
- ``on_train_end(state)``: once, however training ended (not on an exception).

A hook stops training by setting ``state.stop = "reason"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab.errors import DivergedError
from nnlab.fastpath import FlatUpdate
from nnlab.network import Network, Params, one_hot
from nnlab.optimizers import Optimizer, State, apply_updates, clip_by_global_norm

EVENTS = ("on_train_start", "on_gradients", "on_step_end", "on_epoch_end", "on_train_end")


class Hook:
    """Base class: override the events you need (the others cost nothing)."""

    def on_train_start(self, state: TrainState) -> None: ...
    def on_gradients(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


@dataclass
class TrainState:
    """What hooks see. ``epoch`` counts completed epochs; ``step`` completed steps."""

    net: Network
    optimizer: Optimizer
    opt_state: State
    rng: np.random.Generator
    epochs: int
    batch_size: int
    n_train: int
    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    batches_per_epoch: int = 0
    batch_loss: float = math.nan  # measured every ``loss_every`` steps
    grads: Params = field(default_factory=dict)
    updates: Params = field(default_factory=dict)
    grad_norm: float | None = None  # global norm before clipping, when clipping
    metrics: dict[str, float] = field(default_factory=dict)
    stop: str | None = None
    epoch_seconds: float = 0.0


@dataclass
class EvalSet:
    """A named dataset evaluated at each epoch end: metrics ``<name>_loss``, ``<name>_accuracy``."""

    name: str
    X: np.ndarray
    y: np.ndarray
    batch: int = 10_000  # rows per forward pass (nnlab.memory sizes it for large networks)


def evaluate(net: Network, eval_sets: Sequence[EvalSet]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for es in eval_sets:
        loss, acc = net.evaluate(es.X, es.y, batch=es.batch)
        metrics[f"{es.name}_loss"] = loss
        metrics[f"{es.name}_accuracy"] = acc
    return metrics


def train(
    net: Network,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    eval_sets: Sequence[EvalSet] = (),
    hooks: Sequence[Hook] = (),
    clip_norm: float | None = None,
    opt_state: State | None = None,
    start_epoch: int = 0,
    start_step: int = 0,
    loss_every: int = 10,
    fast: bool = True,
) -> TrainState:
    """Train ``net`` on (X, y) with mini-batch ``optimizer`` steps; returns the final state.

    X: (n, n_0) in the network's dtype; y: labels (n,). Each epoch draws a
    fresh permutation from ``rng``; dropout masks come from the same ``rng``.
    ``start_epoch``/``opt_state``/``start_step`` continue an interrupted run
    (the caller restores parameters and the rng's state). The batch loss is
    measured every ``loss_every`` steps: that is also where NaN/inf is caught
    (and, in any case, at each epoch end).

    With a flat θ (``Network.flat``), an elementwise optimizer and ``fast``,
    the update runs on θ as a whole (``nnlab.fastpath.FlatUpdate``, same
    numbers); the arrays of ``opt_state`` are then re-homed as views of flat
    buffers, same names and values.
    """
    n = len(X)
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size {batch_size} must be in 1..{n}")
    Y = one_hot(y, net.n_outputs, net.dtype)
    state = TrainState(
        net=net,
        optimizer=optimizer,
        opt_state=opt_state if opt_state is not None else optimizer.init(net.params),
        rng=rng,
        epochs=epochs,
        batch_size=batch_size,
        n_train=n,
        epoch=start_epoch,
        step=start_step,
        batches_per_epoch=math.ceil(n / batch_size),
    )
    calls = {ev: [getattr(h, ev) for h in hooks if _overrides(h, ev)] for ev in EVENTS}
    out = net.layers[-1]
    flat = FlatUpdate.make(net, optimizer, state.opt_state) if fast else None

    for fn in calls["on_train_start"]:
        fn(state)
    while state.epoch < epochs and state.stop is None:
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        for state.batch_in_epoch, i in enumerate(range(0, n, batch_size)):
            idx = perm[i : i + batch_size]
            Xb, Yb = X[idx], Y[idx]
            net.forward(Xb, train=True, rng=rng)
            # also at a resumed run's first step: batch_loss starts as NaN and would read as divergence
            if state.step % loss_every == 0 or state.step == start_step:
                state.batch_loss = float(net.cost.fn(out.z, out.a, Yb).mean())
            grads = net.backward(Yb)
            if not math.isfinite(state.batch_loss):
                raise _diverged(net, state, grads)
            if clip_norm is not None:
                state.grad_norm = clip_by_global_norm(grads, clip_norm)
            state.grads = grads
            for fn in calls["on_gradients"]:
                fn(state)
            if flat is not None:
                state.updates = flat.step()
            else:
                state.updates = optimizer.update(grads, state.opt_state)
                apply_updates(net.params, state.updates)
            state.step += 1
            for fn in calls["on_step_end"]:
                fn(state)
        state.epoch += 1
        state.epoch_seconds = time.perf_counter() - t0
        state.metrics = evaluate(net, eval_sets)
        if not all(math.isfinite(v) for v in state.metrics.values()) or not _finite(net.params):
            raise _diverged(net, state, None)
        for fn in calls["on_epoch_end"]:
            fn(state)
    for fn in calls["on_train_end"]:
        fn(state)
    return state


def _overrides(hook: Hook, event: str) -> bool:
    return getattr(type(hook), event, None) is not getattr(Hook, event)


def _finite(arrays: Mapping[str, np.ndarray]) -> bool:
    return all(np.isfinite(a).all() for a in arrays.values())


def _diverged(net: Network, state: TrainState, grads: Params | None) -> DivergedError:
    """Name the epoch and the layer where NaN/inf first shows (earliest layer counts)."""
    epoch = state.epoch + (1 if grads is not None else 0)
    where = grads if grads is not None else net.params
    kind = "gradient" if grads is not None else "parameter"
    bad = [k for k, a in where.items() if not np.isfinite(a).all()]
    if bad:
        layer = bad[0]  # parameters are ordered by layer: the earliest one
        detail = f"non-finite {kind} first in {layer}"
    elif grads is not None:
        norms = {k: float(np.linalg.norm(a)) for k, a in grads.items()}
        layer = max(norms, key=norms.get)
        detail = f"largest gradient in {layer} (norm {norms[layer]:.3g})"
    else:
        layer, detail = None, "non-finite evaluation loss"
    msg = f"training diverged in epoch {epoch} (step {state.step + 1}): loss is not finite; {detail}"
    return DivergedError(msg, epoch=epoch, layer=layer)


class EarlyStopping(Hook):
    """Stop after ``patience`` epochs without a better ``monitor`` (higher is better)."""

    def __init__(self, patience: int, monitor: str = "validation_accuracy") -> None:
        self.patience = patience
        self.monitor = monitor
        self.best = -math.inf
        self.best_epoch = 0

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.metrics.get(self.monitor)
        if value is None:
            return
        if value > self.best:
            self.best, self.best_epoch = value, state.epoch
        elif state.epoch - self.best_epoch >= self.patience:
            state.stop = (
                f"no improvement in {self.monitor} for {self.patience} epoch{'' if self.patience == 1 else 's'}"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.best = d.get("best", -math.inf)
        self.best_epoch = d.get("best_epoch", 0)
