"""Instruments: hooks on the training loop that measure each layer.

Each instrument is a ``nnlab.training.Hook`` that emits long-format rows
``(step, epoch, layer, quantity, value)`` into a ``Sink`` (the run directory
writer, or a plain list in tests). Adding one is a small class plus one line
in ``INSTRUMENTS``; ``build_instruments`` switches them on from the config.

- ``ProbeGradients``: Nielsen's ||δ^l|| (norm of the mean bias gradient) and
  ||∂C/∂W^l|| on a fixed probe set, at initialization and each epoch end;
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
