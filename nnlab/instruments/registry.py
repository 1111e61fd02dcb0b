"""The instruments a config can switch on: one factory per instrument, registered by its config key.

A factory takes the ``Setup`` of a run and returns its hook, or None when the
config leaves it off. Adding an instrument: its hook class, its keys in
``InstrumentsConfig`` (``<name>``, ``<name>_every_steps``) and one factory here;
an instrument that holds arrays of its own says how many bytes at its peak with
``@holds`` (the memory guard, nnlab/memory.py, adds them when it is on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.build import build_network
from nnlab.instruments.base import Sink
from nnlab.instruments.distance import WeightDistance
from nnlab.instruments.hessian import HessianEigenvalue
from nnlab.instruments.histograms import HISTOGRAMS, Histograms
from nnlab.instruments.layers import ActivationStats, BatchStats, ProbeGradients
from nnlab.instruments.persample import CHUNK_NUMBERS, PerSampleGradients
from nnlab.network import Network
from nnlab.registry import Registry
from nnlab.training import Hook

#: weights at initialization, in the run directory (distance from initialization is measured from them)
INITIAL_WEIGHTS = "weights-initial.npz"


@dataclass
class Setup:
    """What an instrument may need: the config, the network, where rows go, the probe set."""

    config: object  # nnlab.config.Config
    net: Network
    sink: Sink
    X_probe: np.ndarray
    y_probe: np.ndarray
    initial: Callable[[str], np.ndarray]  # a parameter at initialization, by name (W1, b1, ...)
    folder: Path | None = None  # the run directory (None: rows only, nothing written)
    n_train: int | None = None

    @property
    def ins(self):
        return self.config.instruments


INSTRUMENTS: Registry[Callable[[Setup], Hook | None]] = Registry("instrument")


@dataclass(frozen=True)
class Footprint:
    """What the memory estimate knows of a run, for an instrument to say what it holds (``@holds``)."""

    config: object  # nnlab.config.Config
    n_params: int  # parameters of the network
    itemsize: int  # bytes of one of them (training.dtype)
    per_example: int  # values one example keeps alive in a forward and backward pass
    outputs: int  # values the layers output per example, all layers together
    probe_rows: int
    eval_rows: int  # rows of one evaluation chunk (the probe set is measured in such chunks)
    conv: bool  # a convolutional layer in the net


def holds(bytes_of: Callable[[Footprint], int]):
    """Declare the bytes an instrument holds at its peak beyond the run's own arrays."""

    def attach(factory):
        factory.holds = bytes_of
        return factory

    return attach


def instrument_memory(fp: Footprint) -> dict[str, int]:
    """Instrument name -> bytes it holds, for each instrument the config switches on that declares them."""
    ins = fp.config.instruments
    return {
        name: int(INSTRUMENTS.get(name).holds(fp))
        for name in INSTRUMENTS
        if getattr(ins, name, False) and hasattr(INSTRUMENTS.get(name), "holds")
    }


def build_instruments(setup: Setup) -> list[Hook]:
    """The hooks of every instrument the config switches on (by name: they do not depend on each other)."""
    hooks = [INSTRUMENTS.get(name)(setup) for name in INSTRUMENTS]
    return [h for h in hooks if h is not None]


@INSTRUMENTS.register("gradients")
def _gradients(s: Setup) -> Hook | None:
    return ProbeGradients(s.sink, s.X_probe, s.y_probe, s.ins.gradients_every_steps) if s.ins.gradients else None


@INSTRUMENTS.register("activations")
def _activations(s: Setup) -> Hook | None:
    # the probe measurements share one interval key (gradients_every_steps), as they always have
    return ActivationStats(s.sink, s.X_probe, s.y_probe, s.ins.gradients_every_steps) if s.ins.activations else None


@INSTRUMENTS.register("batch_stats")
def _batch_stats(s: Setup) -> Hook | None:
    return BatchStats(s.sink, s.ins.batch_stats_every) if s.ins.batch_stats else None


@INSTRUMENTS.register("distance")
def _distance(s: Setup) -> Hook | None:
    return WeightDistance(s.sink, s.initial, s.ins.distance_every_steps) if s.ins.distance else None


@INSTRUMENTS.register("per_sample")
@holds(  # each layer's Σg and Σg² in float64, the products forming them and the statistics' temporaries
    # (mean, second moment, variance: float64 vectors as long as θ), a probe chunk's a and δ (and squares)
    lambda fp: 8 * (6 * fp.n_params + 2 * min(fp.eval_rows, fp.probe_rows) * fp.outputs + fp.conv * CHUNK_NUMBERS)
)
def _per_sample(s: Setup) -> Hook | None:
    if not s.ins.per_sample:
        return None
    batch = s.config.training.batch_size
    return PerSampleGradients(s.sink, s.X_probe, s.y_probe, batch, s.ins.per_sample_every_steps)


@INSTRUMENTS.register("histograms")
@holds(  # the probe's z, copies of W and ∂C/∂W, and choosing the bins: |values| != 0, a copy, its median's
    lambda fp: fp.itemsize * (fp.probe_rows * fp.outputs + 5 * fp.n_params) + fp.n_params
)
def _histograms(s: Setup) -> Hook | None:
    if not s.ins.histograms:
        return None
    path = s.folder / HISTOGRAMS if s.folder is not None else None
    return Histograms(s.X_probe, s.y_probe, s.ins.histogram_bins, path, s.ins.histograms_every_steps)


@INSTRUMENTS.register("hessian")
@holds(  # a float64 twin (θ, ∂C/∂θ, L2 buffer, a copy while built), the power iteration's 7 vectors, its batch
    lambda fp: 8 * (11 * fp.n_params + min(fp.config.instruments.hessian_batch, fp.probe_rows) * fp.per_example)
)
def _hessian(s: Setup) -> Hook | None:
    if not s.ins.hessian:
        return None
    cfg = s.config
    cfg64 = cfg.model_copy(update={"training": cfg.training.model_copy(update={"dtype": "float64"})})
    twin = build_network(cfg64, np.random.default_rng(0), n_train=s.n_train)  # its drawn weights are replaced
    n = min(s.ins.hessian_batch, len(s.X_probe))
    rng = np.random.default_rng([cfg.training.seed, 1729])  # the start vector: the same in every run of a seed
    return HessianEigenvalue(
        s.sink, twin, s.X_probe[:n], s.y_probe[:n], rng, s.ins.hessian_iterations, s.ins.hessian_every_steps
    )
