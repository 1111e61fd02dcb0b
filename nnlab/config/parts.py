"""Named parts and their hyperparameters: activations, initializers, optimizers, datasets.

Names come from the engine's registries (imported lazily, inside the checks,
so ``nnlab.config`` imports without NumPy). The hyperparameters each name
takes cannot be read from the registries reliably, so they are written down
here, with their defaults: this table is the contract with the engine
(``tests/test_config_schema.py`` checks it covers every registered name).

A part is written as a name (``relu``) or a mapping with its parameters
(``{name: leaky_relu, slope: 0.1}``); both become a ``PartSpec`` with
``.name`` and ``.params`` (defaults filled in), which the engine builds with
``make_activation(spec.name, **spec.params)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic_core import PydanticCustomError

from nnlab.config.values import (
    Check,
    flag,
    message_of,
    not_a_param,
    number,
    problem,
    problems,
    show,
    unknown_name,
)

# name -> {parameter: default}
ACTIVATION_PARAMS: dict[str, dict[str, float]] = {
    "sigmoid": {},
    "tanh": {},
    "relu": {},
    "leaky_relu": {"slope": 0.01},
    "prelu": {"init": 0.25},  # initial value of the learned slope
    "elu": {"alpha": 1.0},
    "softplus": {},
    "swish": {"beta": 1.0},
    "gelu": {},
    "gelu_tanh": {},
    "identity": {},
    "softmax": {},
}
#: allowed as model.output only: its Jacobian is not diagonal (the cost computes δ^L)
OUTPUT_ONLY = {"softmax"}
#: allowed in hidden layers only: a learned slope per output unit is not an output non-linearity
HIDDEN_ONLY = {"prelu"}

INIT_PARAMS: dict[str, dict[str, float]] = {
    "nielsen": {},
    "network3": {},
    "large": {},
    "standard_normal": {},
    "he": {},
    "glorot_normal": {},
    "glorot_uniform": {},
    "normal": {"std": 0.01},
    "zeros": {},
    "constant": {"value": 0.0},
}

OPTIMIZER_PARAMS: dict[str, dict[str, float | bool]] = {
    "sgd": {},
    "momentum": {"momentum": 0.9, "nesterov": False},
    "adagrad": {"delta": 1e-7},
    "rmsprop": {"rho": 0.9, "delta": 1e-6},
    "adam": {"rho1": 0.9, "rho2": 0.999, "delta": 1e-8},
}
#: learning rate when none is given: network2's η = 0.1 for SGD and momentum;
#: the usual published defaults for the adaptive methods (0.1 makes Adam diverge)
LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}

rate = number(ge=0, lt=1)
PARAM_CHECKS: dict[str, Check] = {
    "slope": number(),
    "init": number(),
    "alpha": number(gt=0),
    "beta": number(gt=0),
    "std": number(gt=0),
    "value": number(),
    "momentum": rate,
    "nesterov": flag,
    "rho": rate,
    "rho1": rate,
    "rho2": rate,
    "delta": number(gt=0),
}


@dataclass(frozen=True)
class DatasetInfo:
    n_inputs: int
    n_classes: int
    train: int
    validation: int
    test: int
    splits: tuple[str, ...]
    image: tuple[int, int, int] | None = None  # [channels, height, width] when the inputs are images


# TODO(data): take names and sizes from nnlab.data.DATASETS once that package is
# committed; the config must know the part sizes without loading any data.
DATASETS = {
    "mnist": DatasetInfo(784, 10, 50_000, 10_000, 10_000, ("first10k", "nielsen"), (1, 28, 28)),
    "mnist-mini": DatasetInfo(784, 10, 5_000, 1_000, 1_000, ("nielsen",), (1, 28, 28)),
}


# -- registry names (lazy: the registries import NumPy) -------------------------


def activation_names(role: str = "any") -> list[str]:
    """``role``: "hidden" (no softmax), "output" (no prelu) or "any"."""
    from nnlab.activations import ACTIVATIONS

    skip = {"hidden": OUTPUT_ONLY, "output": HIDDEN_ONLY}.get(role, set())
    return [n for n in ACTIVATIONS.names() if n not in skip]


def cost_names() -> list[str]:
    from nnlab.costs import COSTS

    return COSTS.names()


def cost_outputs(cost: str) -> tuple[str, ...] | None:
    """The output activations ``cost`` is defined for (None: any), as the engine declares."""
    from nnlab.costs import COSTS

    return COSTS.get(cost).outputs if cost in COSTS else None


def initializer_names() -> list[str]:
    from nnlab.initializers import INITIALIZERS

    return INITIALIZERS.names()


def optimizer_names() -> list[str]:
    from nnlab.optimizers import OPTIMIZERS

    return OPTIMIZERS.names()


def dataset_names() -> list[str]:
    return sorted(DATASETS)


# -- specs -----------------------------------------------------------------------


class PartSpec(BaseModel):
    """A registry name plus its hyperparameters (all of them, defaults filled in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, float] = {}

    @model_serializer(mode="plain")
    def _flat(self) -> str | dict[str, Any]:
        # as the user writes it: a bare name, or {name: ..., param: ...}
        return self.name if not self.params else {"name": self.name, **self.params}

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.name!r}{args})"


class ActivationSpec(PartSpec):
    pass


class InitSpec(PartSpec):
    pass


def parse_activation(value: Any, role: str) -> ActivationSpec:
    """A hidden (``role="hidden"``) or output (``"output"``) activation."""

    def check_name(name: Any) -> str | None:
        valid = activation_names(role)
        if name in valid:
            return None
        listed = ", ".join(valid)
        if not isinstance(name, str):  # a list or mapping as the name: not hashable, not a name
            return unknown_name("activation", name, valid)
        if role == "hidden" and name in OUTPUT_ONLY:
            return f"'{name}' is only allowed as the output activation (model.output); valid: {listed}"
        if role == "output" and name in HIDDEN_ONLY:
            return f"'{name}' is not allowed as the output activation; valid: {listed}"
        return unknown_name("activation", name, valid)

    return _parse_spec(value, ActivationSpec, check_name, ACTIVATION_PARAMS, "an activation", "leaky_relu, slope: 0.1")


def parse_init(value: Any) -> InitSpec:
    def check_name(name: Any) -> str | None:
        valid = initializer_names()
        return None if name in valid else unknown_name("initializer", name, valid)

    return _parse_spec(value, InitSpec, check_name, INIT_PARAMS, "an initializer", "normal, std: 0.01")


def _parse_spec(value, cls, check_name, table, what: str, example: str):
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        name, given, at = value, {}, ()
    elif isinstance(value, dict):
        if "name" not in value:
            raise problem(f"got {show(value)} without 'name'; must be like {{name: {example}}}")
        name, at = value["name"], ("name",)
        given = {k: v for k, v in value.items() if k != "name"}
    else:
        raise problem(f"got {show(value)}; must be {what} name or a mapping like {{name: {example}}}")
    bad_name = check_name(name)
    if bad_name:
        raise problem(bad_name, at)
    defaults = table.get(name, {})  # a registered name missing from the table takes no parameters
    params, errors = dict(defaults), []
    for key, v in given.items():
        if key not in defaults:
            errors.append(((str(key),), not_a_param(key, name, defaults)))
            continue
        try:
            params[key] = PARAM_CHECKS[key](v)
        except PydanticCustomError as err:
            errors.append(((str(key),), message_of(err)))
    if errors:
        raise problems(*errors)
    return cls(name=name, params=params)
