"""Checks across sections: the network against the dataset, batches against the training set.

They run once every field is valid (the config's ``after`` validator), and
``validate_against_data`` repeats the batch checks against the data actually
loaded. Each returns ``(location, message)`` pairs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nnlab.config.parts import dataset, dataset_names
from nnlab.config.values import Loc, as_int, show
from nnlab.errors import UserError

if TYPE_CHECKING:
    from nnlab.config.schema import Config
    from nnlab.data.datasets import DatasetSpec

Problems = list[tuple[Loc, str]]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def raw_train_size(data: Any) -> int | None:
    """The training-set size from a data section not yet validated (None if it cannot tell)."""
    data = data if isinstance(data, dict) else {}
    name = data.get("dataset", "mnist")
    if name not in dataset_names():
        return None
    try:
        info = dataset(name, data)
    except (UserError, TypeError, ValueError):  # a file dataset whose file is bad: said when the section is checked
        return None
    if data.get("train_size") is None:
        return info.train
    n = as_int(data["train_size"])
    return min(n, info.train) if n is not None and n >= 1 else None


def dataset_problems(cfg: Config) -> Problems:
    """Input and output layer sizes, split and part sizes against the dataset."""
    d, sizes = cfg.data, cfg.model.sizes
    info = d.spec
    what = info.title or d.dataset
    errors: Problems = []
    if sizes is not None:
        if sizes[0] != info.n_inputs:
            one = f"the pixels of one {what} image" if not info.title else f"the values of one example in {what}"
            shape = f", an image {list(info.image)}" if info.title and info.image else ""
            errors.append((("model", "sizes", 0), f"got {sizes[0]}; must be {info.n_inputs} ({one}{shape})"))
        if sizes[-1] != info.n_classes:
            last = ("model", "sizes", len(sizes) - 1)
            errors.append((last, f"got {sizes[-1]}; must be {info.n_classes} (the classes of {what})"))
    else:
        errors += layer_problems(cfg, info)
    if d.split not in info.splits:
        allowed = " or ".join(f"'{s}'" for s in info.splits)
        errors.append((("data", "split"), f"got {show(d.split)}; must be {allowed} for dataset {d.dataset}"))
    for part in ("train", "validation", "test"):
        n, cap = getattr(d, f"{part}_size"), getattr(info, part)
        if n is not None and n > cap:
            items = "examples" if info.title else "images"
            message = f"got {n}; must be at most {cap} (the {part} {items} of {what})"
            errors.append((("data", f"{part}_size"), message))
    return errors


def layer_problems(cfg: Config, info: DatasetSpec) -> Problems:
    """model.input against the dataset, then every layer's shape from the input to the output."""
    from nnlab.config.layers import shape_problems
    from nnlab.config.schema import model_input

    shape = model_input(cfg)
    n = math.prod(shape)
    if n != info.n_inputs:
        image = f" ({list(info.image)} as an image)" if info.image else ""
        found = (
            f"got {shape} ({n} inputs)" if cfg.model.input is not None else f"a {cfg.model.layers[0].kind} layer first"
        )
        where = ("model", "input") if cfg.model.input is not None else ("model", "layers", 0)
        what = f"example in {info.title}" if info.title else f"{cfg.data.dataset} example"
        return [(where, f"{found}; one {what} has {info.n_inputs} inputs{image}")]
    if len(shape) == 3 and info.image and tuple(shape) != tuple(info.image):
        what = info.title or cfg.data.dataset
        return [
            (("model", "input"), f"got {shape}; the images of {what} are {list(info.image)} (channels, height, width)")
        ]
    errors = [(("model", *loc), message) for loc, message in shape_problems(shape, cfg.model.layers, info.n_classes)]
    return errors + learned_activation_problems(cfg)


def learned_activation_problems(cfg: Config) -> Problems:
    """An activation with learned parameters (PReLU's slope per unit) on a layer whose kind cannot carry
    them (``Layer.learned_activation``: dense layers only)."""
    from nnlab.activations import ACTIVATIONS, Activation
    from nnlab.config.layers import layer_kinds
    from nnlab.config.schema import model_layers

    errors: Problems = []
    for i, (given, spec) in enumerate(zip(cfg.model.layers, model_layers(cfg))):
        act, cls = spec.activation, layer_kinds()[spec.kind]
        if cls.learned_activation or act is None or ACTIVATIONS.get(act.name).init_params is Activation.init_params:
            continue
        where = ("model", "layers", i, "activation") if given.activation is not None else ("model", "activation")
        message = (
            f"'{act.name}' learns a parameter per unit: dense layers only; {cls.label_stem} layer {i} needs another"
        )
        errors.append((where, message))
    return errors


def dropout_problems(cfg: Config) -> Problems:
    rates, hidden = cfg.regularization.dropout, cfg.model.n_hidden
    if isinstance(rates, list) and cfg.model.layers is not None:
        message = "a list is for model.sizes; with model.layers give a layer its own dropout there"
        return [(("regularization", "dropout"), f"got {plural(len(rates), 'rate')}; {message}")]
    if not isinstance(rates, list) or len(rates) == hidden:
        return []
    need = f"one rate or a list of {hidden}" if hidden else "one rate"
    got = f"got {plural(len(rates), 'rate')} for {plural(hidden, 'hidden layer')}"
    return [(("regularization", "dropout"), f"{got}; must be {need}")]


def batch_problems(cfg: Config, n_train: int, source: str | None = None) -> Problems:
    """Mini-batch and probe set within the ``n_train`` training images (``source``: where n comes from)."""
    t, probe = cfg.training, cfg.instruments.probe_size
    size = "the training-set size" + (f" ({source})" if source else "")
    errors: Problems = []
    if t.full_batch and t.batch_size != n_train:
        message = f"got {t.batch_size} with full_batch: true; must be {n_train} (the training-set size) or left out"
        errors.append((("training", "batch_size"), message))
    elif t.batch_size > n_train:
        errors.append((("training", "batch_size"), f"got {t.batch_size}; must be at most {n_train}, {size}"))
    if probe > n_train:
        errors.append((("instruments", "probe_size"), f"got {probe}; must be at most {n_train}, {size}"))
    return errors


def validate_against_data(cfg: Config, n_train: int, *, label: str = "config") -> None:
    """Refuse a batch or probe set larger than the training set actually loaded.

    The config already checks this against the known dataset sizes; the
    trainer calls it once the data is loaded, as the last word.
    """
    from nnlab.config.messages import line

    errors = batch_problems(cfg, n_train)
    if errors:
        raise UserError(*(line(label, loc, message) for loc, message in errors))
