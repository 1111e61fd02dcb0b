"""Smoke runs (``nnlab train --smoke``): any config shrunk to seconds, on the embedded data.

A smoke run trains on ``mnist-mini`` (shipped inside the package) whatever
``data.dataset`` names, so it needs no download: a few hundred examples, one
epoch, every instrument on. A config whose network does not take mnist-mini's
images (784 inputs, 10 classes) is refused in one line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nnlab.errors import UserError

if TYPE_CHECKING:
    from nnlab.config import Config

DATASET = "mnist-mini"
TRAIN, EVAL, PROBE = 300, 100, 100


def smoke_overrides(cfg: Config, label: str) -> list[str]:
    """The ``--set`` strings that shrink ``cfg`` to a smoke run on the embedded data (UserError if it cannot)."""
    from nnlab.config.parts import dataset
    from nnlab.config.schema import FILE_KEYS, model_input, model_layers

    info = dataset(DATASET)
    n_inputs = math.prod(model_input(cfg))
    n_outputs = model_layers(cfg)[-1].hyper["units"]
    if n_inputs != info.n_inputs or n_outputs != info.n_classes:
        key, got = (
            ("model.sizes", cfg.model.sizes)
            if cfg.model.sizes
            else ("model", f"{n_inputs} inputs and {n_outputs} outputs")
        )
        raise UserError(
            f"{label}: {key}: got {got} with --smoke; a smoke run trains on the embedded {DATASET},"
            f" whose network takes {info.n_inputs} inputs and gives {info.n_classes} outputs"
        )
    n = min(TRAIN, info.train)
    out = [
        f"data.dataset={DATASET}",
        "data.split=nielsen",
        "data.path=null",
        *(f"data.{key}=null" for key in FILE_KEYS),
        f"data.train_size={n}",
        f"data.validation_size={EVAL}",
        f"data.test_size={EVAL}",
        f"training.epochs={min(cfg.training.epochs, 1)}",
        f"instruments.probe_size={min(cfg.instruments.probe_size, PROBE, n)}",
        "instruments.gradients=true",
        "instruments.activations=true",
        "instruments.batch_stats=true",
    ]
    if not cfg.training.full_batch:
        out.append(f"training.batch_size={min(cfg.training.batch_size, n)}")
    return out


def smoke_note(original: Config) -> str:
    """What a smoke run of ``original`` trains on, for the console."""
    named = original.data.dataset
    instead = f" instead of {named}" if named != DATASET else ""
    return (
        f"smoke run: the embedded {DATASET} data{instead} ({TRAIN} training, {EVAL} validation,"
        f" {EVAL} test images; nothing downloaded), one epoch, every instrument"
    )
