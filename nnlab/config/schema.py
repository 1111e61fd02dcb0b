"""The experiment config: one pydantic model per YAML section, defaults = network2.

Every field checks its own value (``nnlab.config.values``); checks that need
two fields (activation list vs number of hidden layers, cost vs output,
sizes vs dataset, batch size vs training-set size) run once the fields are
valid, in the section's or the config's ``after`` validator. Unknown keys are
refused everywhere (``extra="forbid"``; the optimizer section, whose keys are
those its optimizer declares, refuses them itself). Models are frozen: a config is a
value, changed only by loading it again with overrides.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_serializer, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    from nnlab.data.datasets import DatasetSpec

from nnlab.config.checks import batch_problems, dataset_problems, dropout_problems, plural, raw_train_size
from nnlab.config.layers import LayerSpec, layer_kinds, parse_input, parse_layers
from nnlab.config.parts import (
    ActivationSpec,
    InitSpec,
    check_params,
    cost_names,
    cost_outputs,
    dataset,
    dataset_names,
    default_learning_rate,
    hyper_of,
    optimizer_names,
    optimizer_param_names,
    parse_activation,
    parse_init,
)
from nnlab.config.values import (
    PROBLEM,
    Flag,
    Int0,
    Int1,
    NonNegative,
    OptInt1,
    OptPositive,
    Positive,
    as_bool,
    as_int,
    choice,
    integer,
    number,
    problem,
    problems,
    problems_of,
    registered,
    show,
    text,
)
from nnlab.errors import UserError

HIDDEN_SPEC_HELP = (
    "an activation name, a mapping like {name: leaky_relu, slope: 0.1}, or a list with one per hidden layer"
)


class Section(BaseModel):
    """A YAML mapping: ``null`` means all defaults, anything else not a mapping is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _where: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        data = {} if data is None else cls._shorthand(data)
        if not isinstance(data, dict):
            keys = ", ".join(cls.valid_keys({}))
            raise problem(f"got {show(data)}{cls._where}; must be a mapping with keys: {keys}")
        return cls._prepare(dict(data))

    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return data

    @classmethod
    def _prepare(cls, data: dict) -> dict:
        return data

    @classmethod
    def valid_keys(cls, raw: Any) -> list[str]:
        """The keys this section accepts (``raw``: the user's mapping, for sections where it depends)."""
        return sorted(cls.model_fields)

    @classmethod
    def keys(cls) -> list[str]:
        """Every key this section may hold, whatever else it holds (``--set`` paths are checked against it)."""
        return sorted(cls.model_fields)


# -- model ---------------------------------------------------------------------


def _sizes(v: Any) -> list[int] | None:
    if v is None:
        return None  # model.layers declares the net (checked in ModelConfig)
    if not isinstance(v, (list, tuple)):
        raise problem(f"got {show(v)}; must be a list of at least 2 layer sizes (input and output)")
    if len(v) < 2:
        raise problem(f"got {show(v)}; must list at least 2 layer sizes (input and output)")
    out, errors = [], []
    for i, x in enumerate(v):
        n = as_int(x)
        if n is None or n < 1:
            errors.append(((i,), f"got {show(x)}; must be an integer >= 1"))
        out.append(n)
    if errors:
        raise problems(*errors)
    return out


def _hidden_activation(v: Any) -> ActivationSpec | list[ActivationSpec]:
    if isinstance(v, (list, tuple)):
        out, errors = [], []
        for i, x in enumerate(v):
            try:
                out.append(parse_activation(x, "hidden"))
            except PydanticCustomError as err:
                errors += [((i, *sub), msg) for sub, msg in problems_of(err)]
        if errors:
            raise problems(*errors)
        return out
    if not isinstance(v, (str, dict, ActivationSpec)):
        raise problem(f"got {show(v)}; must be {HIDDEN_SPEC_HELP}")
    return parse_activation(v, "hidden")


class InitConfig(Section):
    weights: Annotated[InitSpec, BeforeValidator(parse_init)] = InitSpec(name="nielsen")
    biases: Annotated[InitSpec, BeforeValidator(parse_init)] = InitSpec(name="standard_normal")


class ModelConfig(Section):
    """A fully-connected net by its ``sizes`` (the shorthand), or any net by its ``layers``."""

    sizes: Annotated[list[int] | None, BeforeValidator(_sizes)] = [784, 30, 10]
    input: Annotated[list[int] | None, BeforeValidator(parse_input)] = None
    layers: Annotated[list[LayerSpec] | None, BeforeValidator(parse_layers)] = None
    activation: Annotated[ActivationSpec | list[ActivationSpec], BeforeValidator(_hidden_activation)] = ActivationSpec(
        name="sigmoid"
    )
    output: Annotated[ActivationSpec, BeforeValidator(lambda v: parse_activation(v, "output"))] = ActivationSpec(
        name="sigmoid"
    )
    cost: Annotated[str, BeforeValidator(registered("cost", cost_names))] = "cross_entropy"
    cost_reduction: Annotated[Literal["sum", "mean"], BeforeValidator(choice("sum", "mean"))] = "sum"
    init: InitConfig = Field(default_factory=InitConfig)

    @classmethod
    def _prepare(cls, data: dict) -> dict:
        if data.get("layers") is not None:
            if data.get("sizes") is not None:
                raise problems(
                    (("sizes",), "given with model.layers; give one: sizes (a fully-connected net) or layers")
                )
            data["sizes"] = None
        return data

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # the architecture as it was given: sizes, or input and layers (a sizes config dumps as it always did)
        return {k: v for k, v in handler(self).items() if v is not None or k not in ("sizes", "input", "layers")}

    @property
    def n_hidden(self) -> int:
        """Hidden layers of a ``sizes`` net; for ``layers``, the layers with weights before the output."""
        if self.sizes is not None:
            return len(self.sizes) - 2
        kinds = layer_kinds()
        return sum(kinds[spec.kind].numbered for spec in self.layers) - 1

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.sizes is None and self.layers is None:
            raise problems((("sizes",), "got null; give sizes (a fully-connected net) or layers"))
        errors = []
        hidden, act = self.n_hidden, self.activation
        if isinstance(act, list) and self.layers is not None:
            message = "a list is for model.sizes; with model.layers give a layer its own activation there"
            errors.append((("activation",), f"got {plural(len(act), 'activation')}; {message}"))
        elif isinstance(act, list) and len(act) != hidden:
            got = f"got {plural(len(act), 'activation')} for {plural(hidden, 'hidden layer')}"
            need = f"one activation or a list of {hidden}" if hidden else "one activation name"
            errors.append((("activation",), f"{got}; must be {need}"))
        # the engine declares which outputs each cost is defined for
        outputs = cost_outputs(self.cost)
        if outputs is not None and self.output.name not in outputs:
            found = f"'{self.output.name}' does not work with cost '{self.cost}'"
            errors.append((("output",), f"{found}; {self.cost} needs output: {', '.join(outputs)}"))
        if errors:
            raise problems(*errors)
        return self


# -- optimizer -----------------------------------------------------------------


class OptimizerConfig(Section):
    """Name, learning rate and the hyperparameters that optimizer declares (``Optimizer.hyper``).

    The declared hyperparameters are kept as the model's extra fields, in the
    declared order, defaults filled in: ``cfg.optimizer.rho1`` reads one and
    the dump is flat (``{name: adam, learning_rate: 0.001, rho1: 0.9, ...}``).
    A key some other optimizer declares is "not a parameter of" this one; any
    other key is unknown. ``params`` is what ``make_optimizer(name, **params)``
    takes.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, BeforeValidator(registered("optimizer", optimizer_names))] = "sgd"
    learning_rate: Positive = 0.1  # replaced by the optimizer's own default_learning_rate

    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data  # optimizer: adam

    @model_validator(mode="wrap")
    @classmethod
    def _declared(cls, data: Any, handler: Any) -> OptimizerConfig:
        data = {} if data is None else cls._shorthand(data)
        if not isinstance(data, dict):
            return handler(data)  # a config already, or not a mapping (Section says so)
        name = data.get("name", "sgd")
        own = name if isinstance(name, str) and name in optimizer_names() else None
        others = optimizer_param_names()
        fields = {k: v for k, v in data.items() if k in cls.model_fields}
        given = {k: v for k, v in data.items() if k not in cls.model_fields and k in others and v is not None}
        unknown = [k for k in data if k not in cls.model_fields and k not in others]
        params, errors = {}, []
        if own is not None:  # (an unknown name is its own error; its parameters cannot be checked)
            if fields.get("learning_rate") is None:
                fields["learning_rate"] = default_learning_rate(own)
            hyper = hyper_of("optimizer", own)
            given = {k: given[k] for k in [*(k for k in hyper if k in given), *(k for k in given if k not in hyper)]}
            params, errors = check_params(own, hyper, given, also_takes=["learning_rate"])
        try:
            model = handler({**fields, **params})
            found = []
        except ValidationError as err:
            found = err.errors()
        if not (found or errors or unknown):
            return model
        # one list in the order the fields come: name, learning_rate, the parameters, unknown keys
        from nnlab.config.messages import unknown_key

        details: list[InitErrorDetails] = [
            {"type": PydanticCustomError(PROBLEM, "{summary}", e["ctx"]), "loc": e["loc"], "input": e["input"]}
            if e["type"] == PROBLEM
            else {"type": e["type"], "loc": e["loc"], "input": e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {})}
            for e in found
        ]
        details += [{"type": problems(*errors), "loc": (), "input": data}] if errors else []
        details += [{"type": problem(unknown_key((k,), cls, data)), "loc": (k,), "input": data[k]} for k in unknown]
        raise ValidationError.from_exception_data(cls.__name__, details)

    @classmethod
    def valid_keys(cls, raw: Any) -> list[str]:
        name = raw.get("name", "sgd") if isinstance(raw, dict) else "sgd"
        if isinstance(name, str) and name in optimizer_names():
            return sorted(["name", "learning_rate", *hyper_of("optimizer", name)])
        return cls.keys()

    @classmethod
    def keys(cls) -> list[str]:
        return sorted([*cls.model_fields, *optimizer_param_names()])

    @property
    def params(self) -> dict[str, float | bool]:
        """Keyword arguments of the optimizer: learning_rate and its own hyperparameters."""
        return {"learning_rate": self.learning_rate, **(self.model_extra or {})}


# -- regularization, training, data, instruments, output -----------------------

_rate = number(ge=0, lt=1)


def _dropout(v: Any) -> float | list[float]:
    if not isinstance(v, (list, tuple)):
        return _rate(v)
    out, errors = [], []
    for i, x in enumerate(v):
        try:
            out.append(_rate(x))
        except PydanticCustomError as err:
            errors += [((i, *sub), msg) for sub, msg in problems_of(err)]
    if errors:
        raise problems(*errors)
    return out


class RegularizationConfig(Section):
    l2: NonNegative = 0.0
    dropout: Annotated[float | list[float], BeforeValidator(_dropout)] = 0.0
    clip_norm: OptPositive = None


class TrainingConfig(Section):
    epochs: Int0 = 30
    batch_size: Int1 = 10
    seed: Int0 = 0
    dtype: Annotated[Literal["float32", "float64"], BeforeValidator(choice("float32", "float64"))] = "float32"
    early_stopping: OptInt1 = None
    full_batch: Flag = False


#: data keys for a file dataset (npz, csv) only, left out of a dumped config when unset
FILE_KEYS = ("label_column", "validation_path", "test_path", "validation_fraction", "test_fraction", "seed")
CSV_KEYS = ("label_column", "validation_path", "test_path")
FILE_DATASETS = ("npz", "csv")


def file_dataset(path: str | Path) -> str | None:
    """The file dataset that reads ``path``, by its suffix (``.npz`` -> npz, ``.CSV`` -> csv); None for others."""
    kind = Path(path).suffix.lower().removeprefix(".")
    return kind if kind in FILE_DATASETS else None


_fraction = number(gt=0, lt=1, optional=True)


class DataConfig(Section):
    """A named dataset (mnist, fashion-mnist, ...) or the user's own file (npz, csv; ``nnlab.data.files``)."""

    dataset: Annotated[str, BeforeValidator(registered("dataset", dataset_names))] = "mnist"
    split: Annotated[Literal["nielsen", "first10k"], BeforeValidator(choice("nielsen", "first10k"))] = "nielsen"
    path: Annotated[str | None, BeforeValidator(text("a folder or file path", optional=True))] = None
    train_size: OptInt1 = None
    validation_size: OptInt1 = None
    test_size: OptInt1 = None
    pixel_scale: Positive = 255.0
    label_column: Annotated[str | None, BeforeValidator(text("a column name", optional=True))] = None
    validation_path: Annotated[str | None, BeforeValidator(text("a file path", optional=True))] = None
    test_path: Annotated[str | None, BeforeValidator(text("a file path", optional=True))] = None
    validation_fraction: Annotated[float | None, BeforeValidator(_fraction)] = None
    test_fraction: Annotated[float | None, BeforeValidator(_fraction)] = None
    seed: Annotated[int | None, BeforeValidator(integer(0, optional=True))] = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # a named dataset's config dumps as it always did
        return {k: v for k, v in handler(self).items() if v is not None or k not in FILE_KEYS}

    @model_validator(mode="after")
    def _source(self) -> DataConfig:
        errors = []
        own = self.dataset in FILE_DATASETS
        for key in FILE_KEYS:
            if getattr(self, key) is None:
                continue
            if not own:
                errors.append(((key,), f"is for data.dataset npz or csv (your own data), not {self.dataset}"))
            elif key in CSV_KEYS and self.dataset != "csv":
                why = (
                    "an npz file holds its own X_validation/X_test arrays"
                    if key != "label_column"
                    else "npz has y_ arrays"
                )
                errors.append(((key,), f"is for data.dataset csv only ({why})"))
        if own and self.path is None:
            errors.append(
                (("path",), f"missing; data.dataset {self.dataset} needs the file: data.path: FILE.{self.dataset}")
            )
        if errors:
            raise problems(*errors)
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The section as a mapping: what a file dataset reads its file with."""
        return {k: getattr(self, k) for k in type(self).model_fields}

    @property
    def spec(self) -> DatasetSpec:
        """What the dataset is: sizes, classes, image shape (a file dataset reads its file, once)."""
        return dataset(self.dataset, self.options)

    @property
    def n_train(self) -> int:
        """Training-set size: the first ``train_size`` of the dataset's training part, or all of it."""
        full = self.spec.train
        return min(self.train_size, full) if self.train_size is not None else full

    @property
    def train_size_source(self) -> str:
        """Where ``n_train`` comes from, for messages."""
        return "data.train_size" if self.train_size is not None else (self.spec.title or self.dataset)


class InstrumentsConfig(Section):
    probe_size: Int1 = 1000
    gradients: Flag = True
    gradients_every_steps: OptInt1 = None
    batch_stats: Flag = True
    batch_stats_every: Int1 = 10
    activations: Flag = True
    # weight distance from initialization and update size per layer (cheap)
    distance: Flag = True
    distance_every_steps: OptInt1 = None
    # per-example gradient statistics on the probe set: signal-to-noise ratio, norm test
    per_sample: Flag = False
    per_sample_every_steps: OptInt1 = None
    # histograms of weights, probe gradients and pre-activations z (histograms.npz)
    histograms: Flag = False
    histograms_every_steps: OptInt1 = None
    histogram_bins: Annotated[int, BeforeValidator(integer(4))] = 48
    # largest eigenvalue of the loss Hessian by power iteration (costly)
    hessian: Flag = False
    hessian_every_steps: OptInt1 = None
    hessian_iterations: Int1 = 20
    hessian_batch: Int1 = 256
    train_metrics: Annotated[Literal["probe", "full", "none"], BeforeValidator(choice("probe", "full", "none"))] = (
        "probe"
    )


class OutputConfig(Section):
    runs_dir: Annotated[str, BeforeValidator(text("a folder path"))] = "runs"
    checkpoint_every: Int1 = 1
    tensorboard: Flag = False  # event files in RUN_DIR/tensorboard (nnlab.tensorboard; needs nnlab[tensorboard])
    strict: Flag = False  # a completed run with diagnosis findings exits with code 5 (nnlab.diagnosis)


# -- the whole config ------------------------------------------------------------

_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _run_name(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if isinstance(v, str) and _RUN_NAME.fullmatch(v):
        return v
    raise problem(
        f"got {show(v)}; must be 1-64 letters, digits, '.', '_' or '-', starting with a letter"
        " or digit (it names the run folder)"
    )


def safe_run_name(stem: str) -> str:
    """A file stem made acceptable as a run name (``my config`` -> ``my-config``)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:64]
    return name or "run"


class Config(Section):
    _where: ClassVar[str] = " at the top level"

    name: Annotated[str, BeforeValidator(_run_name)] = "run"
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    instruments: InstrumentsConfig = Field(default_factory=InstrumentsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @classmethod
    def _prepare(cls, data: dict) -> dict:
        # full_batch: the batch is the whole training set, whose size the data section fixes
        training = data.get("training")
        full_batch = isinstance(training, dict) and as_bool(training.get("full_batch"))
        if full_batch and training.get("batch_size") is None:
            n = raw_train_size(data.get("data"))
            if n is not None:
                data["training"] = {**training, "batch_size": n}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        try:
            _ = self.data.spec  # a file dataset: read and checked here, once
        except UserError as err:  # the data file itself is bad: nothing else can be checked against it
            raise problems(*((("data", "path"), line) for line in err.lines)) from None
        errors = dataset_problems(self) + dropout_problems(self)
        errors += batch_problems(self, self.data.n_train, self.data.train_size_source)
        if errors:
            raise problems(*errors)
        return self


def model_input(cfg: Config) -> list[int]:
    """One example's shape as the user writes it: ``[n]`` or ``[channels, height, width]``.

    Default: the dataset's image shape when the first layer cannot take a flat
    vector (a conv2d or maxpool2d layer), else its number of inputs.
    """
    m, info = cfg.model, cfg.data.spec
    if m.input is not None:
        return list(m.input)
    if m.sizes is not None:
        return [m.sizes[0]]
    first = m.layers[0]
    try:
        layer_kinds()[first.kind].shape_after((info.n_inputs,), **first.hyper)
    except ValueError:  # it takes images
        if info.image:
            return list(info.image)
    return [info.n_inputs]


def model_layers(cfg: Config) -> list[LayerSpec]:
    """Every layer of the net with its settings resolved: activation, initializers, dropout.

    A ``sizes`` net is its dense layers; in ``layers``, what a layer leaves
    out comes from the model (activation: model.activation, the last layer's
    model.output; init: model.init) and regularization.dropout (hidden dense
    layers).
    """
    m = cfg.model
    if m.sizes is not None:
        acts = [*hidden_activations(cfg), m.output]
        drops = [*dropout_rates(cfg), 0.0]
        init = {"init_weights": m.init.weights, "init_biases": m.init.biases}
        return [
            LayerSpec(kind="dense", hyper={"units": n}, activation=a, dropout=p, **init)
            for n, a, p in zip(m.sizes[1:], acts, drops)
        ]
    default_dropout = cfg.regularization.dropout if not isinstance(cfg.regularization.dropout, list) else 0.0
    out = []
    for i, spec in enumerate(m.layers):
        last = i == len(m.layers) - 1
        fill: dict[str, Any] = {}
        settings = layer_kinds()[spec.kind].settings  # what the kind takes, as its class declares
        if "activation" in settings:
            fill["activation"] = spec.activation or (m.output if last else m.activation)
        if "init" in settings:
            fill["init_weights"] = spec.init_weights or m.init.weights
            fill["init_biases"] = spec.init_biases or m.init.biases
        if "dropout" in settings:
            fill["dropout"] = spec.dropout if spec.dropout is not None else (0.0 if last else default_dropout)
        out.append(spec.model_copy(update=fill))
    return out


def hidden_activations(cfg: Config) -> list[ActivationSpec]:
    """One activation per hidden layer (a single one is repeated)."""
    act = cfg.model.activation
    return list(act) if isinstance(act, list) else [act] * cfg.model.n_hidden


def dropout_rates(cfg: Config) -> list[float]:
    """One dropout rate per hidden layer (a single one is repeated)."""
    rates = cfg.regularization.dropout
    return list(rates) if isinstance(rates, list) else [rates] * cfg.model.n_hidden
