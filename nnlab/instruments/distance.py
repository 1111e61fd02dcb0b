"""Distance of each layer's weights from their initial values, and the size of an update.

    distance       ||W^l_t - W^l_0||            (Frobenius norm; weights only, not biases)
    distance_rel   ||W^l_t - W^l_0|| / ||W^l_0||   (NaN for a layer initialized to zero)
    update_size    ||ΔW^l|| of the step just taken (the last step of the epoch at an epoch end)

W^l_0 comes from ``weights-initial.npz`` (written when a run starts, read again
by a resumed run), so a resumed run measures from the same origin. It is read
from there one layer at a time at each record rather than kept in memory (a
second copy of every weight would count against the memory guard's estimate).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnlab.instruments.base import Row, Sink
from nnlab.instruments.tracking import Tracked
from nnlab.training import TrainState

#: numbers converted to float64 at once
BLOCK = 1 << 20


def _norm(x: np.ndarray, y: np.ndarray | None = None) -> float:
    """||x|| or ||x - y||, summed in float64 a block at a time (no full-size temporaries)."""
    a, b = x.ravel(), (y.ravel() if y is not None else None)
    total = 0.0
    for i in range(0, a.size, BLOCK):
        d = a[i : i + BLOCK].astype(np.float64)
        if b is not None:
            d -= b[i : i + BLOCK]
        total += float(np.dot(d, d))
    return math.sqrt(total)


class WeightDistance(Tracked):
    """Rows ``distance``, ``distance_rel`` and (after the first step) ``update_size`` per layer.

    ``initial``: a function returning a parameter at initialization by name (``experiment.initial_weights``).
    """

    table = "gradients"

    def __init__(
        self,
        sink: Sink,
        initial: Callable[[str], np.ndarray],
        every_steps: int | None = None,
    ) -> None:
        super().__init__(every_steps)
        self.sink, self.initial = sink, initial

    def record(self, state: TrainState) -> None:
        rows = []
        for layer in state.net.learning_layers:
            name = f"W{layer.number}"
            W0 = self.initial(name)
            d = _norm(layer.W, W0)
            n0 = _norm(W0)
            values = {"distance": d, "distance_rel": d / n0 if n0 > 0 else math.nan}
            if state.step > 0 and name in state.updates:
                values["update_size"] = _norm(state.updates[name])
            rows += [Row(state.step, state.epoch, layer.number, q, v, layer.label) for q, v in values.items()]
        self.sink.emit(self.table, rows)
