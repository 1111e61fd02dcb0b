"""Instruments: hooks on the training loop that measure each layer.

Each instrument is a ``nnlab.training.Hook`` that emits long-format rows
``(step, epoch, layer, quantity, value, label)`` into a ``Sink`` (the run
directory writer, or a plain list in tests), one row per layer with weights
(dense and conv layers, numbered 1..L as Nielsen numbers them, labelled
``dense1``, ``conv2``, ``output``). ``nnlab.experiment`` switches them on from
the config's ``instruments`` section.

- ``ProbeGradients``: Nielsen's ||δ^l|| (norm of the mean bias gradient; for a
  conv layer, one bias per filter) and ||∂C/∂W^l|| on a fixed probe set, at
  initialization and each epoch end;
- ``ActivationStats``: mean and std of a^l, saturated or dead fraction on the
  probe set (measured on the same forward pass as the gradients);
- ``BatchStats``: mean mini-batch ||∂C/∂W^l|| and ||ΔW^l|| / ||W^l|| over
  every k-th step of each epoch.
"""

from nnlab.instruments.base import ListSink, Row, Sink
from nnlab.instruments.layers import ActivationStats, BatchStats, ProbeGradients, activation_stats, probe_gradients

__all__ = [
    "ActivationStats",
    "BatchStats",
    "ListSink",
    "ProbeGradients",
    "Row",
    "Sink",
    "activation_stats",
    "probe_gradients",
]
