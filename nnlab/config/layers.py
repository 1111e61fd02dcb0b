"""``model.layers``: an architecture as a list of layers, each checked against its kind's declaration.

```yaml
model:
  input: [1, 28, 28]                       # one example: channels, height, width
  layers:
    - {kind: conv2d, filters: 20, kernel: 5}
    - {kind: maxpool2d, size: 2}
    - {kind: dense, units: 100, dropout: 0.5}
    - {kind: dense, units: 10}             # the output layer (activation: model.output)
```

A layer is ``{kind: ..., <hyperparameters>, <settings>}`` or just its kind
(``maxpool2d``, ``flatten``). The hyperparameters each kind takes are the
ones its class declares (``Layer.hyper`` in ``nnlab.layers``); settings are
``activation`` and ``init`` (for layers with weights; default: the model's)
and ``dropout`` (dense hidden layers). A dense layer after a convolutional or
pooling layer flattens its input itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic_core import PydanticCustomError

from nnlab.config.parts import ActivationSpec, InitSpec, parse_activation, parse_init, role_problem
from nnlab.config.values import (
    declared,
    integer,
    not_a_param,
    number,
    problem,
    problems,
    problems_of,
    show,
    unknown_name,
)


def layer_kinds() -> dict[str, Any]:
    """Registered layer kinds -> their classes (lazy: the layers import NumPy)."""
    from nnlab.layers import LAYERS

    return {name: LAYERS.get(name) for name in LAYERS.names()}


class LayerSpec(BaseModel):
    """One entry of model.layers: the kind, its hyperparameters (defaults filled in) and its settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    hyper: dict[str, int | float | bool] = {}
    activation: ActivationSpec | None = None
    init_weights: InitSpec | None = None
    init_biases: InitSpec | None = None
    dropout: float | None = None

    @model_serializer(mode="plain")
    def _flat(self) -> str | dict[str, Any]:
        # as the user writes it: {kind: conv2d, filters: 20, kernel: 5, activation: relu}
        out: dict[str, Any] = {"kind": self.kind, **self.hyper}
        if self.activation is not None:
            out["activation"] = self.activation.model_dump()
        init = {k: v.model_dump() for k, v in (("weights", self.init_weights), ("biases", self.init_biases)) if v}
        if init:
            out["init"] = init
        if self.dropout is not None:
            out["dropout"] = self.dropout
        return out


def parse_layer(value: Any) -> LayerSpec:
    """One ``model.layers`` entry; every problem at its key (``kernel``, ``activation.name``, ...)."""
    kinds = layer_kinds()
    if isinstance(value, LayerSpec):
        return value
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, dict):
        raise problem(f"got {show(value)}; must be a layer kind or a mapping like {{kind: dense, units: 100}}")
    if "kind" not in value:
        raise problem(f"got {show(value)} without 'kind'; must say its kind: {', '.join(kinds)}")
    kind = value["kind"]
    if not isinstance(kind, str) or kind not in kinds:
        raise problem(unknown_name("layer kind", kind, list(kinds)), ("kind",))
    cls = kinds[kind]
    settings = set(cls.settings)
    errors: list[tuple[tuple, str]] = []
    hyper: dict[str, Any] = {}
    fields: dict[str, Any] = {"kind": kind}
    for key, v in value.items():
        if key == "kind":
            continue
        if key in cls.hyper:
            try:
                hyper[key] = declared(cls.hyper[key])(v)
            except PydanticCustomError as err:
                errors += [((key, *sub), msg) for sub, msg in problems_of(err)]
        elif key in settings:
            try:
                fields.update(_setting(key, v))
            except PydanticCustomError as err:
                errors += [((key, *sub), msg) for sub, msg in problems_of(err)]
        else:
            errors.append(((str(key),), not_a_param(key, kind, [*cls.hyper, *sorted(settings)])))
    for name, h in cls.hyper.items():
        if name not in hyper and name not in value:
            if h.required:
                errors.append(((name,), f"missing; a {kind} layer needs {name} ({h.doc})"))
            else:
                hyper[name] = h.default
    if errors:
        raise problems(*errors)
    return LayerSpec(**fields, hyper={name: hyper[name] for name in cls.hyper})  # in the declared order


def _setting(key: str, v: Any) -> dict[str, Any]:
    if key == "activation":
        return {"activation": parse_activation(v, "any")}
    if key == "dropout":
        return {"dropout": number(ge=0, lt=1)(v)}
    if not isinstance(v, dict):
        raise problem(f"got {show(v)}; must be a mapping with keys: biases, weights")
    out, errors = {}, []
    for part, spec in v.items():
        if part not in ("weights", "biases"):
            errors.append(((str(part),), not_a_param(part, "init", ["biases", "weights"])))
            continue
        try:
            out[f"init_{part}"] = parse_init(spec)
        except PydanticCustomError as err:
            errors += [((part, *sub), msg) for sub, msg in problems_of(err)]
    if errors:
        raise problems(*errors)
    return out


def parse_layers(v: Any) -> list[LayerSpec] | None:
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or not v:
        raise problem(f"got {show(v)}; must be a list of layers, like [{{kind: dense, units: 10}}]")
    out, errors = [], []
    for i, x in enumerate(v):
        try:
            out.append(parse_layer(x))
        except PydanticCustomError as err:
            errors += [((i, *sub), msg) for sub, msg in problems_of(err)]
            continue
        # the activation's declared role: softmax on the last layer only, prelu never there
        act = out[-1].activation
        misplaced = act and role_problem(act.name, "output" if i == len(v) - 1 else "hidden", "the last layer")
        if misplaced:
            errors.append(((i, "activation"), misplaced))
    if errors:
        raise problems(*errors)
    return out


def parse_input(v: Any) -> list[int] | None:
    """``model.input``: one example's shape, ``[n]`` or ``[channels, height, width]``."""
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, (list, tuple)) or len(v) not in (1, 3):
        raise problem(f"got {show(v)}; must be [n] or [channels, height, width], like [1, 28, 28]")
    errors, out = [], []
    for i, x in enumerate(v):
        try:
            out.append(integer(1)(x))
        except PydanticCustomError as err:
            errors += [((i, *sub), msg) for sub, msg in problems_of(err)]
    if errors:
        raise problems(*errors)
    return out


def internal_shape(input_shape: list[int]) -> tuple[int, ...]:
    """The user's ``[C, H, W]`` as the engine's channels-last ``(H, W, C)``; ``[n]`` stays ``(n,)``."""
    if len(input_shape) == 3:
        C, H, W = input_shape
        return (H, W, C)
    return tuple(input_shape)


class Step(NamedTuple):
    """One layer on the way from the input to the output."""

    index: int
    spec: LayerSpec
    cls: Any  # the layer kind's class
    shape_in: tuple[int, ...]  # one example as the layer takes it (channels last)
    shape_out: tuple[int, ...]
    flattened: bool  # a flatten goes before it (it takes flat input and follows an image-shaped layer)


def walk(input_shape: tuple[int, ...], layers: list[LayerSpec]) -> Iterator[Step]:
    """Each layer with the shapes it takes and gives, from ``input_shape`` (channels last) on.

    A layer that does not fit raises its ``ValueError`` (a ``ShapeError`` names the
    hyperparameter at fault) with ``index`` set to its place in ``layers``.
    """
    kinds = layer_kinds()
    shape = tuple(input_shape)
    for i, spec in enumerate(layers):
        cls = kinds[spec.kind]
        flattened = cls.flat_input and len(shape) > 1
        if flattened:
            shape = (math.prod(shape),)
        try:
            out = tuple(cls.shape_after(shape, **spec.hyper))
        except ValueError as err:
            err.index = i
            raise
        yield Step(i, spec, cls, shape, out, flattened)
        shape = out


def shape_problems(input_shape: list[int], layers: list[LayerSpec], n_classes: int | None) -> list[tuple[tuple, str]]:
    """Walk the shapes from the input; a problem at the first layer that does not fit (and the output)."""
    try:
        for _ in walk(internal_shape(input_shape), layers):
            pass
    except ValueError as err:  # a ShapeError names the hyperparameter that does not fit
        key = getattr(err, "key", None)
        return [(("layers", err.index, key) if key else ("layers", err.index), str(err))]
    last = layers[-1]
    errors = []
    if last.kind != "dense":
        errors.append((("layers", len(layers) - 1), f"got a {last.kind} layer last; the output layer must be dense"))
    elif n_classes is not None and last.hyper["units"] != n_classes:
        errors.append(
            (("layers", len(layers) - 1, "units"), f"got {last.hyper['units']}; must be {n_classes} (the classes)")
        )
    if last.dropout:
        errors.append((("layers", len(layers) - 1, "dropout"), "the output layer takes no dropout"))
    return errors
