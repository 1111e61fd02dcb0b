"""TensorBoard event files beside the CSVs (``output.tensorboard: true``; needs ``nnlab[tensorboard]``).

What goes in, under ``RUN_DIR/tensorboard/``, with the training step as TensorBoard's step:

- every value the run directory's tables get, as it gets them (after each
  epoch's flush, so the two always agree): ``metrics/<column>`` from
  metrics.csv (``metrics/validation_accuracy``, ``metrics/train_loss``, ...),
  ``gradients/<quantity>/<label>`` and ``activations/<quantity>/<label>``
  from the long tables (``gradients/delta_norm/dense1``,
  ``gradients/update_ratio/conv1``, ``activations/dead_fraction/dense2``);
- at initialization and at each epoch end, a histogram of every parameter
  array and of its gradient on the probe set (the mean gradient of the cost
  over the probe examples, L2 included, no dropout: the gradient
  ``gradients/delta_norm`` measures): ``weights/W1``, ``gradients/W1``, ...

A resumed run starts its writer at the checkpoint's step with ``purge_step``:
TensorBoard then drops whatever an earlier writer wrote after that step (the
epochs the CSVs were truncated back from), so both tell one history.

Watch a run, a sweep or a whole ``runs/`` folder with
``tensorboard --logdir runs/`` (TensorBoard is a separate install).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.errors import UserError
from nnlab.instruments.base import Row
from nnlab.instruments.layers import probe_mean_grads
from nnlab.network import Network
from nnlab.training import Hook, TrainState

FOLDER = "tensorboard"
INSTALL = 'pip install "nnlab[tensorboard]"'


def require(where: str) -> None:
    """UserError (one line) when the writer's package is missing: checked before a run starts."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise UserError(
            f"{where}: output.tensorboard: true needs the optional package tensorboardX; install it with: {INSTALL}"
        ) from None


def _tag(label: str, layer: int) -> str:
    return label or f"layer{layer}"  # run directories older than labels: the layer's number


class TensorBoardWriter(Hook):
    """Mirrors the run directory's tables into event files and adds per-parameter histograms.

    ``rows`` and ``metrics`` are called by the experiment's recorder with
    exactly what it appends to the CSVs; the hook's own events draw the
    histograms. ``X_probe, y_probe``: the probe set of the gradient histograms.
    """

    def __init__(self, run_dir: Path, X_probe: np.ndarray, y_probe: np.ndarray) -> None:
        self.logdir = Path(run_dir) / FOLDER
        self.X_probe, self.y_probe = X_probe, y_probe
        self._Y: np.ndarray | None = None  # the probe's targets, made once
        self.writer: Any = None

    def _open(self, step: int) -> None:
        from tensorboardX import SummaryWriter

        # flushed at each epoch end by the hook itself; purge_step: a resumed run's history from its checkpoint on
        # the file name holds the second and the host: a resumed run's writer, started in the same second as
        # the first (a quick run), would write into the first one's file without its own suffix
        self.writer = SummaryWriter(
            logdir=str(self.logdir),
            flush_secs=10**6,
            purge_step=step + 1 if step else None,
            filename_suffix=f".{os.getpid()}.step{step}",
        )

    # called by the recorder ------------------------------------------------
    def metrics(self, row: dict[str, float | None]) -> None:
        step = int(row["step"] or 0)
        if self.writer is None:
            self._open(step)
        for column, value in row.items():
            if column not in ("epoch", "step") and value is not None and math.isfinite(value):
                self.writer.add_scalar(f"metrics/{column}", value, step)

    def rows(self, table: str, rows: Sequence[Row]) -> None:
        if self.writer is None and rows:
            self._open(rows[0].step)
        for r in rows:
            if math.isfinite(r.value):
                self.writer.add_scalar(f"{table}/{r.quantity}/{_tag(r.label, r.layer)}", r.value, r.step)

    # hooks -----------------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        if self.writer is None:
            self._open(state.step)
        if state.step == 0:
            self._histograms(state.net, 0)
            self.writer.flush()

    def on_epoch_end(self, state: TrainState) -> None:
        self._histograms(state.net, state.step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _histograms(self, net: Network, step: int) -> None:
        for name, values in net.params.items():
            self.writer.add_histogram(f"weights/{name}", np.asarray(values, dtype=np.float64), step)
        if self._Y is None:
            self._Y = net.targets(self.y_probe)
        for name, values in probe_mean_grads(net, self.X_probe, self._Y).items():
            self.writer.add_histogram(f"gradients/{name}", np.asarray(values, dtype=np.float64), step)
