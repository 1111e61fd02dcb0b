"""Named parts and their hyperparameters: activations, initializers, costs, optimizers, datasets.

Everything here is read from the engine's registries, where each part
declares what it takes (``hyper``: type, default, bounds; see
``nnlab.hyper``), where it may stand (an activation's ``role``) and, for an
optimizer, its default learning rate; a dataset's ``DatasetSpec`` gives its
sizes, splits and image shape. The registries import NumPy, so they are
imported inside the functions, never at module import: ``nnlab.config``
imports without NumPy.

A part is written as a name (``relu``) or a mapping with its parameters
(``{name: leaky_relu, slope: 0.1}``); both become a ``PartSpec`` with
``.name`` and ``.params`` (defaults filled in), which the engine builds with
``make_activation(spec.name, **spec.params)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic_core import PydanticCustomError

from nnlab.config.values import Loc, declared, message_of, not_a_param, problem, problems, show, unknown_name
from nnlab.hyper import Hyper

if TYPE_CHECKING:
    from nnlab.data.datasets import DatasetSpec
    from nnlab.registry import Registry


def registry(kind: str) -> Registry:
    """The engine's registry of ``kind``: activation, initializer, cost, optimizer or dataset."""
    if kind == "activation":
        from nnlab.activations import ACTIVATIONS as reg
    elif kind == "initializer":
        from nnlab.initializers import INITIALIZERS as reg
    elif kind == "cost":
        from nnlab.costs import COSTS as reg
    elif kind == "optimizer":
        from nnlab.optimizers import OPTIMIZERS as reg
    elif kind == "dataset":
        from nnlab.data.datasets import DATASETS as reg
    else:
        raise ValueError(f"no registry of {kind!r}")
    return reg


def hyper_of(kind: str, name: str) -> dict[str, Hyper]:
    """The hyperparameters the part ``name`` of ``kind`` declares (a registered name)."""
    return registry(kind).hyper(name)


# -- names ------------------------------------------------------------------------


def activation_role(name: str) -> str:
    """Where an activation may stand: "any", "hidden" (layers) or "output" (model.output)."""
    return getattr(registry("activation").get(name), "role", "any")


def activation_names(role: str = "any") -> list[str]:
    """``role``: "hidden" (no output-only ones), "output" (no hidden-only ones) or "any"."""
    names = registry("activation").names()
    if role == "any":
        return names
    return [n for n in names if activation_role(n) in ("any", role)]


def role_problem(name: str, role: str, output: str = "model.output") -> str | None:
    """Why the registered activation ``name`` may not stand in a ``role`` ("hidden" or "output") layer, or None.

    ``output``: where the output activation is given, for the message.
    """
    declared = activation_role(name)
    if role == "hidden" and declared == "output":
        valid = ", ".join(activation_names("hidden"))
        return f"'{name}' is only allowed as the output activation ({output}); valid: {valid}"
    if role == "output" and declared == "hidden":
        return f"'{name}' is not allowed as the output activation; valid: {', '.join(activation_names('output'))}"
    return None


def cost_names() -> list[str]:
    return registry("cost").names()


def cost_outputs(cost: str) -> tuple[str, ...] | None:
    """The output activations ``cost`` is defined for (None: any), as the engine declares."""
    costs = registry("cost")
    return costs.get(cost).outputs if cost in costs else None


def initializer_names() -> list[str]:
    return registry("initializer").names()


def optimizer_names() -> list[str]:
    return registry("optimizer").names()


def default_learning_rate(optimizer: str) -> float:
    return registry("optimizer").get(optimizer).default_learning_rate


def optimizer_param_names() -> list[str]:
    """Every hyperparameter some registered optimizer declares (besides learning_rate), sorted."""
    optimizers = registry("optimizer")
    return sorted({key for name in optimizers.names() for key in optimizers.hyper(name)})


def dataset_names() -> list[str]:
    return registry("dataset").names()


def dataset(name: str, options: Mapping[str, Any] | None = None) -> DatasetSpec:
    """What the registered dataset ``name`` is (sizes, splits, image shape), without loading it.

    A file dataset (npz, csv) reads the file ``options["path"]`` names (the data section as
    a mapping) to know it; a ``UserError`` says what is wrong with the file.
    """
    return registry("dataset").get(name).resolve(options)


# -- hyperparameter values ---------------------------------------------------------


def check_params(
    owner: str, hyper: Mapping[str, Hyper], given: Mapping[Any, Any], *, also_takes: Iterable[str] = ()
) -> tuple[dict[str, Any], list[tuple[Loc, str]]]:
    """``given`` checked against ``owner``'s declaration: the values with defaults filled in
    (in the declared order), and a ``(key, message)`` problem for each wrong, unknown or missing one.

    ``also_takes``: other keys ``owner`` takes, listed in the message for an unknown key.
    """
    params: dict[str, Any] = {}
    errors: list[tuple[Loc, str]] = []
    for key, v in given.items():
        if key not in hyper:
            errors.append(((str(key),), not_a_param(key, owner, [*also_takes, *hyper])))
            continue
        try:
            params[key] = declared(hyper[key])(v)
        except PydanticCustomError as err:
            errors.append(((key,), message_of(err)))
    for key, h in hyper.items():
        if key not in given and h.required:
            errors.append(((key,), f"missing; {owner} needs {key}" + (f" ({h.doc})" if h.doc else "")))
    return {k: params.get(k, h.default) for k, h in hyper.items()}, errors


# -- specs -----------------------------------------------------------------------


class PartSpec(BaseModel):
    """A registry name plus its hyperparameters (all of them, defaults filled in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, int | float | bool] = {}

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
    """A hidden (``role="hidden"``), output (``"output"``) or any layer's (``"any"``) activation."""

    def check_name(name: Any) -> str | None:
        valid = activation_names(role)
        if name in valid:
            return None
        if not isinstance(name, str) or name not in registry("activation"):
            return unknown_name("activation", name, valid)
        return role_problem(name, role)

    return _parse_spec(value, ActivationSpec, check_name, "activation", "an activation", "leaky_relu, slope: 0.1")


def parse_init(value: Any) -> InitSpec:
    def check_name(name: Any) -> str | None:
        valid = initializer_names()
        return None if name in valid else unknown_name("initializer", name, valid)

    return _parse_spec(value, InitSpec, check_name, "initializer", "an initializer", "normal, std: 0.01")


def _parse_spec(value, cls, check_name, kind: str, what: str, example: str):
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
    params, errors = check_params(name, hyper_of(kind, name), given)
    if errors:
        raise problems(*errors)
    return cls(name=name, params=params)
