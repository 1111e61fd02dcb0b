"""How much memory a run needs at its peak, estimated from the config before anything is allocated.

    from nnlab.memory import check_fits, estimate_config
    estimate = estimate_config(cfg)        # bytes by part: parameters, gradients, ...
    check_fits(cfg, "cfg.yaml")             # UserError (exit 2) when it does not fit

The network enters as one ``LayerFootprint`` per layer (its parameter count,
the values it outputs per example and its scratch per example), made by
``layer_footprints(cfg)``: a new kind of layer needs only its own footprint there. The estimate counts

- parameters, their gradients and the L2 work buffer (the network keeps one of
  each, flat), and the optimizer's state (``slots`` arrays like the parameters:
  momentum 1, adagrad 1, rmsprop 1, adam 2);
- the largest working set of one moment: a training step on ``batch_size`` rows
  (each layer's z and a, dropout masks, the deltas and backward temporaries, the
  batch's inputs and targets), the probe set's forward and backward (the
  instruments), an evaluation chunk, or the second copy of the parameters held
  while the network is built;
- the dataset: scaled inputs, labels, one-hot training targets, and the raw
  pixels they are scaled from;
- the arrays optional instruments hold (the Hessian's float64 copy of the
  network, per-example gradient sums, histogram copies), as each declares
  them in nnlab/instruments/registry.py (``@holds``);
- the process itself before any array (Python, NumPy, nnlab): ``PYTHON``.

It is an estimate (NumPy temporaries are counted per layer kind, not traced) and
errs on the high side. Memory available: ``MemAvailable`` of /proc/meminfo (else
what ``os.sysconf`` reports), or the cgroup's limit less its usage when lower; a
run may use ``SHARE`` of it. ``NNLAB_MEMORY_LIMIT`` (``8G``, ``512M``, bytes)
replaces that figure: a cap on a shared machine, or a way past the guard.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from nnlab.errors import UserError

if TYPE_CHECKING:
    from nnlab.config import Config

SHARE = 0.8  # of the memory available, what one run may use
LIMIT_ENV = "NNLAB_MEMORY_LIMIT"
EVAL_ROWS_MAX = 10_000  # evaluation chunk for small networks (Network.evaluate's default)
EVAL_FLOOR = 64 << 20  # bytes an evaluation chunk may always use, however small the training step
PYTHON = 60_000_000  # the process before any array: Python, NumPy, nnlab (a smoke run peaks at 55 MB)


class LayerFootprint(NamedTuple):
    """One layer as the memory estimate sees it."""

    n_params: int  # parameters (weights, biases, learned activation parameters)
    n_out: int  # values the layer outputs per example
    n_work: int = 0  # scratch values per example beyond its outputs (a conv layer's im2col patches)


def layer_footprints(cfg: Config) -> list[LayerFootprint]:
    """Each layer of the config's network, input side first, its shapes walked from ``model.input``;
    each kind says what it holds (``Layer.footprint``), plus PReLU's slope per unit."""
    from nnlab.config.layers import internal_shape, walk
    from nnlab.config.schema import model_input, model_layers

    out = []
    for step in walk(internal_shape(model_input(cfg)), model_layers(cfg)):
        n_params, n_out, n_work = step.cls.footprint(step.shape_in, **step.spec.hyper)
        act = step.spec.activation
        if act is not None and act.name == "prelu":
            n_params += n_out
        out.append(LayerFootprint(n_params, n_out, n_work))
    return out


def _n_inputs(cfg: Config) -> int:
    from nnlab.config.schema import model_input

    return math.prod(model_input(cfg))


def _architecture_key(cfg: Config) -> str:
    """Where a message about the network's size points: model.sizes, or model.layers."""
    return "model.sizes" if cfg.model.sizes is not None else "model.layers"


@dataclass(frozen=True)
class Estimate:
    """Peak bytes of a run, by part."""

    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    data: int
    python: int = PYTHON
    #: the parameters as built, copied once at the start (weights-initial.npz); with instruments.distance,
    #: a layer's initial weights read back from that file and their difference from the current ones
    initial_weights: int = 0
    #: optional instruments' own arrays (a Hessian's float64 twin, histogram copies), as each declares them
    instruments: int = 0

    @property
    def total(self) -> int:
        return (
            self.parameters
            + self.gradients
            + self.optimizer_state
            + self.activations
            + self.data
            + self.initial_weights
            + self.instruments
            + self.python
        )

    def describe(self) -> str:
        """``about 27.1 GB (parameters 9.5 GB, gradients 19.1 GB, ...)``: the parts that are not zero."""
        parts = [
            ("parameters", self.parameters),
            ("gradients", self.gradients),
            ("optimizer state", self.optimizer_state),
            ("activations", self.activations),
            ("data", self.data),
            ("initial weights", self.initial_weights),
            ("instruments", self.instruments),
            ("Python", self.python),
        ]
        return f"about {size(self.total)} ({', '.join(f'{k} {size(v)}' for k, v in parts if v)})"


def size(n: float) -> str:
    """Bytes for people: ``812 kB``, ``27.1 MB``, ``3.4 GB``, ``2.4 TB`` (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{max(n, 0) / 1e3:.0f} kB"


def _per_example(layers: Sequence[LayerFootprint], n_inputs: int, *, train: bool, dropout: bool) -> int:
    """Values one example keeps alive at the peak of a forward (and, ``train``, backward) pass."""
    widest = max(layer.n_out for layer in layers)
    outs = sum(layer.n_out for layer in layers)
    work = sum(layer.n_work for layer in layers)
    n_classes = layers[-1].n_out
    if not train:  # z and a per layer, the activation's temporaries, one-hot targets and the cost's
        return 2 * outs + 2 * widest + 2 * n_classes + work
    drop = 2 if dropout else 0  # mask and masked output per layer; the random draw (float64) at the widest
    # + delta, dC/da, f'(z) temporaries; a conv layer's patches, and their gradient in backward
    return n_inputs + n_classes + (2 + drop) * outs + (3 + drop) * widest + 2 * work


def estimate(
    layers: Sequence[LayerFootprint],
    *,
    n_inputs: int,
    itemsize: int,
    optimizer_slots: int,
    batch_rows: int,
    probe_rows: int,
    eval_rows: int,
    dropout: bool,
    data_bytes: int,
) -> Estimate:
    """Peak bytes of a run of ``layers`` (see the module docstring for what is counted)."""
    n_params = sum(layer.n_params for layer in layers)
    theta = n_params * itemsize
    step = batch_rows * _per_example(layers, n_inputs, train=True, dropout=dropout) * itemsize
    probe = probe_rows * _per_example(layers, n_inputs, train=True, dropout=False) * itemsize
    evaluation = eval_rows * _per_example(layers, n_inputs, train=False, dropout=False) * itemsize
    return Estimate(
        parameters=theta,
        gradients=2 * theta,  # ∂C/∂θ and the L2 work buffer
        optimizer_state=optimizer_slots * theta,
        activations=max(step, probe, evaluation, theta),  # theta: the layers' own arrays while θ is built
        data=data_bytes,
    )


def eval_rows(
    layers: Sequence[LayerFootprint], *, n_inputs: int, itemsize: int, batch_rows: int, probe_rows: int
) -> int:
    """Rows per evaluation chunk: as many as fit in what the training step (or the probe) already
    needs, or ``EVAL_FLOOR``, at most ``EVAL_ROWS_MAX``, at least ``batch_rows``."""
    budget = max(
        batch_rows * _per_example(layers, n_inputs, train=True, dropout=False) * itemsize,
        probe_rows * _per_example(layers, n_inputs, train=True, dropout=False) * itemsize,
        EVAL_FLOOR,
    )
    per_row = _per_example(layers, n_inputs, train=False, dropout=False) * itemsize
    return max(1, min(EVAL_ROWS_MAX, max(batch_rows, budget // per_row)))


# -- from a config --------------------------------------------------------------


def _sizes(cfg: Config) -> tuple[int, int, int]:
    d, info = cfg.data, cfg.data.spec
    pick = lambda n, full: min(n, full) if n is not None else full  # noqa: E731
    return pick(d.train_size, info.train), pick(d.validation_size, info.validation), pick(d.test_size, info.test)


def _probe_rows(cfg: Config) -> int:
    ins = cfg.instruments
    n_train = _sizes(cfg)[0]
    return min(ins.probe_size, n_train) if (ins.gradients or ins.activations or ins.train_metrics == "probe") else 0


def _train_eval_rows(cfg: Config) -> int:
    """Rows of the training set evaluated each epoch (``instruments.train_metrics``)."""
    tm = cfg.instruments.train_metrics
    return _sizes(cfg)[0] if tm == "full" else (min(cfg.instruments.probe_size, _sizes(cfg)[0]) if tm == "probe" else 0)


def config_eval_rows(cfg: Config) -> int:
    """Rows per evaluation chunk for this config's run (``eval_rows`` of its layers)."""
    import numpy as np

    return eval_rows(
        layer_footprints(cfg),
        n_inputs=_n_inputs(cfg),
        itemsize=np.dtype(cfg.training.dtype).itemsize,
        batch_rows=cfg.training.batch_size,
        probe_rows=_probe_rows(cfg),
    )


def estimate_config(cfg: Config) -> Estimate:
    """The peak memory of the run ``cfg`` declares."""
    import numpy as np

    from nnlab.config.schema import model_layers
    from nnlab.optimizers import OPTIMIZERS

    itemsize = np.dtype(cfg.training.dtype).itemsize
    specs = model_layers(cfg)
    n_inputs, n_classes = _n_inputs(cfg), specs[-1].hyper["units"]
    n_train, n_validation, n_test = _sizes(cfg)
    n = n_train + n_validation + n_test
    info = cfg.data.spec
    raw = (info.train + info.validation + info.test) * n_inputs  # uint8 pixels the parts are scaled from
    data = n * n_inputs * itemsize + n * 8 + n_train * n_classes * itemsize + raw
    layers = layer_footprints(cfg)
    probe = _probe_rows(cfg)
    theta = sum(layer.n_params for layer in layers) * itemsize
    largest = max(layer.n_params for layer in layers) * itemsize
    initial = max(theta, 2 * largest) if cfg.instruments.distance else theta
    est = estimate(
        layers,
        n_inputs=n_inputs,
        itemsize=itemsize,
        optimizer_slots=len(OPTIMIZERS.get(cfg.optimizer.name).slots),
        batch_rows=cfg.training.batch_size,
        probe_rows=probe,
        eval_rows=min(config_eval_rows(cfg), max(n_validation, n_test, _train_eval_rows(cfg))),
        dropout=any(spec.dropout for spec in specs),
        data_bytes=data,
    )
    from nnlab.instruments.registry import Footprint, instrument_memory

    footprint = Footprint(
        config=cfg,
        n_params=theta // itemsize,
        itemsize=itemsize,
        per_example=_per_example(layers, n_inputs, train=True, dropout=False),
        outputs=sum(layer.n_out for layer in layers),
        probe_rows=probe,
        eval_rows=config_eval_rows(cfg),
        conv=any(layer.n_work for layer in layers),
    )
    extra = sum(instrument_memory(footprint).values())
    return dataclasses.replace(est, initial_weights=initial, instruments=extra)


# -- memory available ---------------------------------------------------------------


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup_available(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup's memory limit less its usage (v2, else v1); None without a limit."""
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(root / limit_file)
        if limit is not None and limit < 1 << 60:  # v1 says "no limit" with a huge number
            return max(0, limit - (_read_int(root / usage_file) or 0))
    return None


def parse_size(text: str) -> int | None:
    """``8G`` or ``8GB`` (8e9), ``8GiB`` (8 * 2**30), ``512M``, ``2000000`` -> bytes; None if unreadable."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?)?\s*", text, re.IGNORECASE)
    if not m:
        return None
    power = "kmgt".index(m.group(2).lower()) + 1 if m.group(2) else 0
    return int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** power)


def allowed_memory() -> tuple[int, str] | None:
    """(bytes a run may use, how that was found, for messages); None when it cannot be told."""
    text = os.environ.get(LIMIT_ENV)
    if text:
        limit = parse_size(text)
        if limit is None:
            raise UserError(f"{LIMIT_ENV}={text}: not a size; use bytes, or a number with K, M, G or T (e.g. 8G, 512M)")
        return limit, f"{LIMIT_ENV} allows {size(limit)}"
    found = [a for a in (_meminfo_available(), _cgroup_available()) if a is not None]
    if not found:
        return None
    available = min(found)
    return int(SHARE * available), f"{size(available)} is available (a run may use {SHARE:.0%} of it)"


def check_fits(cfg: Config, label: str) -> Estimate:
    """The estimate, or a UserError when the run needs more than a run may use."""
    est = estimate_config(cfg)
    allowed = allowed_memory()
    if allowed is not None and est.total > allowed[0]:
        raise UserError(f"{label}: {_architecture_key(cfg)}: the run needs {est.describe()}; {allowed[1]}")
    return est


def check_members(members: Sequence[tuple[str, Config]], jobs: int) -> None:
    """A sweep's members, before it starts: each must fit, and the ``jobs`` largest together.

    ``members``: (label, config) pairs. One line per member that does not fit
    (labels repeated for equal configs are reported once); else one line for
    ``--jobs`` when the members that may run at once do not fit together.
    """
    allowed = allowed_memory()
    if allowed is None:
        return
    errors: list[str] = []
    totals = []
    for label, cfg in members:
        est = estimate_config(cfg)
        totals.append(est.total)
        line = f"{label}: {_architecture_key(cfg)}: the run needs {est.describe()}; {allowed[1]}"
        if est.total > allowed[0] and line not in errors:
            errors.append(line)
    if errors:
        raise UserError(*errors)
    at_once = sorted(totals, reverse=True)[: max(1, jobs)]
    if len(at_once) > 1 and sum(at_once) > allowed[0]:
        fit, used = 0, 0
        for t in at_once:
            if used + t > allowed[0]:
                break
            fit, used = fit + 1, used + t
        raise UserError(
            f"--jobs {jobs}: {len(at_once)} members at once need about {size(sum(at_once))}; {allowed[1]};"
            f" use --jobs {max(1, fit)}"
        )
