"""Config -> the engine's objects: network, optimizer, data arrays.

    cfg = load_config("configs/quickstart.yaml")
    rng = np.random.default_rng(cfg.training.seed)
    net = build_network(cfg, rng)
    opt = build_optimizer(cfg)
    data = build_data(cfg)

Nothing here trains, prints or writes; ``nnlab.experiment`` wires these to
the training loop and the instruments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from nnlab.activations import make_activation
from nnlab.config import Config, load_config
from nnlab.config.layers import internal_shape, walk
from nnlab.config.schema import model_input, model_layers
from nnlab.costs import make_cost
from nnlab.data import load_dataset, scale_pixels
from nnlab.initializers import INITIALIZERS
from nnlab.layers import Flatten
from nnlab.layers.base import LayerParts
from nnlab.network import Network
from nnlab.optimizers import Optimizer, make_optimizer


def as_config(cfg: Config | Mapping[str, Any] | str) -> Config:
    """A ``Config`` from a Config, a dict, or a YAML file path."""
    return cfg if isinstance(cfg, Config) else load_config(cfg)


def build_network(
    cfg: Config | Mapping[str, Any] | str, rng: np.random.Generator, n_train: int | None = None
) -> Network:
    """The network the config declares, its parameters drawn from ``rng``.

    Layer by layer, W^l then b^l are drawn (in float64, then cast to the
    config's dtype, so float32 and float64 runs start from the same numbers).
    A dense layer that follows an image-shaped one gets a flatten before it.
    ``n_train`` is the n of Nielsen's L2 term λ/n (default: the config's
    training-set size).
    """
    cfg = as_config(cfg)
    m = cfg.model
    dtype = np.dtype(cfg.training.dtype)
    specs = model_layers(cfg)
    input_shape = internal_shape(model_input(cfg))
    layers = []
    for step in walk(input_shape, specs):
        if step.flattened:
            layers.append(Flatten())
        spec = step.spec
        parts = LayerParts(rng, dtype, dropout=spec.dropout or 0.0)
        if spec.activation is not None:
            parts.activation = make_activation(spec.activation.name, **spec.activation.params)
        if spec.init_weights is not None:
            w, b_ = spec.init_weights, spec.init_biases
            parts.weights = partial(INITIALIZERS.get(w.name), **w.params)
            parts.biases = partial(INITIALIZERS.get(b_.name), **b_.params)
        following = specs[step.index + 1] if step.index + 1 < len(specs) else None
        if following is not None and following.kind == "maxpool2d":
            parts.fan_out_divisor = following.hyper["size"] ** 2
        layers.append(step.cls.create(step.shape_in, spec.hyper, parts))
    n = n_train if n_train is not None else cfg.data.n_train
    lam = cfg.regularization.l2
    cost = make_cost(m.cost, m.cost_reduction)
    return Network(layers, cost, l2=lam / n if lam else 0.0, input_shape=input_shape)


def build_optimizer(cfg: Config | Mapping[str, Any] | str) -> Optimizer:
    cfg = as_config(cfg)
    return make_optimizer(cfg.optimizer.name, **cfg.optimizer.params)


@dataclass
class Data:
    """Scaled arrays in the network's dtype: X (n, d), flat (784 for MNIST), and integer labels y."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_validation: np.ndarray
    y_validation: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_train(self) -> int:
        return len(self.X_train)


def build_data(cfg: Config | Mapping[str, Any] | str) -> Data:
    """Load and scale the config's dataset (raises ``UserError`` when it is missing)."""
    cfg = as_config(cfg)
    d = cfg.data
    ds = load_dataset(
        d.dataset,
        split=d.split,
        data_dir=d.path,
        train_size=d.train_size,
        validation_size=d.validation_size,
        test_size=d.test_size,
        options=d.options,
    )
    dtype = np.dtype(cfg.training.dtype)

    def scale(part):
        # raw uint8 pixels are scaled by data.pixel_scale; a user's float values are used as they are
        X = scale_pixels(part.X, d.pixel_scale, dtype) if part.X.dtype == np.uint8 else part.X.astype(dtype)
        return X, part.y

    return Data(ds.name, *scale(ds.train), *scale(ds.validation), *scale(ds.test), source=str(ds.source))
