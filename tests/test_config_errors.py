"""Every config mistake is one exact line: ``<file>: <key.path>: <found>; <allowed>``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from nnlab.config import load_config
from nnlab.errors import UserError
from nnlab.initializers import INITIALIZERS

HIDDEN = "elu, gelu, gelu_tanh, identity, leaky_relu, prelu, relu, sigmoid, softplus, swish, tanh"
OUTPUTS = "elu, gelu, gelu_tanh, identity, leaky_relu, relu, sigmoid, softmax, softplus, swish, tanh"
INITS = ", ".join(INITIALIZERS.names())  # every registered initializer, as the message lists them
SECTIONS = "data, instruments, model, name, optimizer, output, regularization, training"
MINI = {"dataset": "mnist-mini"}

# (id, config as written in cfg.yaml, the exact error lines)
BAD_CONFIGS = [
    (
        "unknown-hidden-activation",
        {"model": {"activation": "sigmod"}},
        [f"model.activation: unknown activation 'sigmod'; valid: {HIDDEN} (did you mean 'sigmoid'?)"],
    ),
    (
        "unknown-activation-no-close-match",
        {"model": {"activation": "banana"}},
        [f"model.activation: unknown activation 'banana'; valid: {HIDDEN}"],
    ),
    ("alias-lr", {"optimizer": {"lr": 0.1}}, ["optimizer.lr: unknown key; did you mean 'learning_rate'?"]),
    ("alias-lmbda", {"regularization": {"lmbda": 5.0}}, ["regularization.lmbda: unknown key; did you mean 'l2'?"]),
    ("misspelt-section", {"modle": {}}, ["modle: unknown key; did you mean 'model'?"]),
    ("unknown-top-key", {"foo": 1}, [f"foo: unknown key; valid keys: {SECTIONS}"]),
    ("batch-size-zero", {"training": {"batch_size": 0}}, ["training.batch_size: got 0; must be an integer >= 1"]),
    (
        "learning-rate-nan",
        {"optimizer": {"learning_rate": math.nan}},
        ["optimizer.learning_rate: got nan; must be a finite number > 0"],
    ),
    (
        "learning-rate-text",
        {"optimizer": {"learning_rate": "fast"}},
        ["optimizer.learning_rate: got 'fast'; must be a finite number > 0"],
    ),
    (
        "sizes-empty",
        {"model": {"sizes": []}},
        ["model.sizes: got []; must list at least 2 layer sizes (input and output)"],
    ),
    (
        "sizes-not-a-list",
        {"model": {"sizes": 784}},
        ["model.sizes: got 784; must be a list of at least 2 layer sizes (input and output)"],
    ),
    (
        "sizes-bad-entries-all-reported",
        {"model": {"sizes": [784, 0, "x", 10]}},
        ["model.sizes[1]: got 0; must be an integer >= 1", "model.sizes[2]: got 'x'; must be an integer >= 1"],
    ),
    (
        "sizes-do-not-fit-mnist",
        {"model": {"sizes": [700, 30, 9]}},
        [
            "model.sizes[0]: got 700; must be 784 (the pixels of one mnist image)",
            "model.sizes[2]: got 9; must be 10 (the classes of mnist)",
        ],
    ),
    (
        "param-of-another-optimizer",
        {"optimizer": {"name": "adam", "momentum": 0.9}},
        ["optimizer.momentum: not a parameter of 'adam'; adam takes: delta, learning_rate, rho1, rho2"],
    ),
    (
        "param-of-another-optimizer-close-match",
        {"optimizer": {"name": "adam", "rho": 0.9}},
        [
            "optimizer.rho: not a parameter of 'adam'; adam takes: delta, learning_rate, rho1, rho2 (did you mean 'rho1'?)"
        ],
    ),
    (
        "unknown-optimizer",
        {"optimizer": {"name": "adamw"}},
        [
            "optimizer.name: unknown optimizer 'adamw'; valid: adagrad, adam, momentum, rmsprop, sgd (did you mean 'adam'?)"
        ],
    ),
    (
        "momentum-out-of-range",
        {"optimizer": {"name": "momentum", "momentum": 1.0}},
        ["optimizer.momentum: got 1.0; must be a number in [0, 1)"],
    ),
    (
        "activation-list-too-short",
        {"model": {"sizes": [784, 30, 30, 10], "activation": ["relu"]}},
        ["model.activation: got 1 activation for 2 hidden layers; must be one activation or a list of 2"],
    ),
    (
        "activation-list-entry-unknown",
        {"model": {"sizes": [784, 30, 30, 10], "activation": ["relu", "rlu"]}},
        [f"model.activation[1]: unknown activation 'rlu'; valid: {HIDDEN} (did you mean 'relu'?)"],
    ),
    (
        "softmax-hidden",
        {"model": {"activation": "softmax"}},
        [f"model.activation: 'softmax' is only allowed as the output activation (model.output); valid: {HIDDEN}"],
    ),
    (
        "prelu-output",
        {"model": {"output": "prelu"}},
        [f"model.output: 'prelu' is not allowed as the output activation; valid: {OUTPUTS}"],
    ),
    (
        "softmax-with-cross-entropy",
        {"model": {"output": "softmax"}},
        ["model.output: 'softmax' does not work with cost 'cross_entropy'; cross_entropy needs output: sigmoid"],
    ),
    (
        "log-likelihood-needs-softmax",
        {"model": {"cost": "log_likelihood"}},
        ["model.output: 'sigmoid' does not work with cost 'log_likelihood'; log_likelihood needs output: softmax"],
    ),
    (
        "unknown-cost",
        {"model": {"cost": "mse"}},
        ["model.cost: unknown cost 'mse'; valid: cross_entropy, log_likelihood, quadratic (did you mean 'quadratic'?)"],
    ),
    (
        "activation-param-misspelt",
        {"model": {"activation": {"name": "leaky_relu", "slop": 0.1}}},
        ["model.activation.slop: not a parameter of 'leaky_relu'; leaky_relu takes: slope (did you mean 'slope'?)"],
    ),
    (
        "activation-param-on-parameterless",
        {"model": {"activation": {"name": "relu", "slope": 0.1}}},
        ["model.activation.slope: not a parameter of 'relu'; relu takes no parameters"],
    ),
    (
        "activation-mapping-without-name",
        {"model": {"activation": {"slope": 0.1}}},
        ["model.activation: got {slope: 0.1} without 'name'; must be like {name: leaky_relu, slope: 0.1}"],
    ),
    (
        "activation-param-bad-value",
        {"model": {"activation": {"name": "elu", "alpha": -1}}},
        ["model.activation.alpha: got -1; must be a finite number > 0"],
    ),
    (
        "unknown-initializer",
        {"model": {"init": {"weights": "xavier"}}},
        [f"model.init.weights: unknown initializer 'xavier'; valid: {INITS} (did you mean 'glorot_normal'?)"],
    ),
    (
        "initializer-std-zero",
        {"model": {"init": {"weights": {"name": "normal", "std": 0}}}},
        ["model.init.weights.std: got 0; must be a finite number > 0"],
    ),
    (
        "dropout-one",
        {"regularization": {"dropout": 1.0}},
        ["regularization.dropout: got 1.0; must be a number in [0, 1)"],
    ),
    (
        "dropout-list-length",
        {"regularization": {"dropout": [0.5, 0.5]}},
        ["regularization.dropout: got 2 rates for 1 hidden layer; must be one rate or a list of 1"],
    ),
    (
        "dropout-list-entry",
        {"regularization": {"dropout": [1.5]}},
        ["regularization.dropout[0]: got 1.5; must be a number in [0, 1)"],
    ),
    ("l2-negative", {"regularization": {"l2": -1}}, ["regularization.l2: got -1; must be a finite number >= 0"]),
    (
        "clip-norm-zero",
        {"regularization": {"clip_norm": 0}},
        ["regularization.clip_norm: got 0; must be a finite number > 0 or null"],
    ),
    (
        "several-training-mistakes-all-reported",
        {"training": {"epochs": -1, "seed": 1.5, "dtype": "float16", "early_stopping": 0, "full_batch": "maybe"}},
        [
            "training.epochs: got -1; must be an integer >= 0",
            "training.seed: got 1.5; must be an integer >= 0",
            "training.dtype: got 'float16'; must be one of: float32, float64 (did you mean 'float64'?)",
            "training.early_stopping: got 0; must be an integer >= 1 or null",
            "training.full_batch: got 'maybe'; must be true or false",
        ],
    ),
    (
        "batch-larger-than-training-set",
        {"training": {"batch_size": 6000}, "data": MINI},
        ["training.batch_size: got 6000; must be at most 5000, the training-set size (mnist-mini)"],
    ),
    (
        "full-batch-contradicts-batch-size",
        {"training": {"batch_size": 10, "full_batch": True}, "data": {**MINI, "train_size": 1000}},
        ["training.batch_size: got 10 with full_batch: true; must be 1000 (the training-set size) or left out"],
    ),
    (
        "unknown-dataset",
        {"data": {"dataset": "mnsit"}},
        [
            "data.dataset: unknown dataset 'mnsit'; valid: csv, fashion-mnist, mnist, mnist-mini, npz (did you mean 'mnist'?)"
        ],
    ),
    (
        "mini-has-only-nielsen-split",
        {"data": {**MINI, "split": "first10k"}},
        ["data.split: got 'first10k'; must be 'nielsen' for dataset mnist-mini"],
    ),
    (
        "train-size-beyond-dataset",
        {"data": {**MINI, "train_size": 6000}, "instruments": {"probe_size": 100}},
        ["data.train_size: got 6000; must be at most 5000 (the train images of mnist-mini)"],
    ),
    (
        "probe-larger-than-training-set",
        {"instruments": {"probe_size": 2000}, "data": {"train_size": 1000}},
        ["instruments.probe_size: got 2000; must be at most 1000, the training-set size (data.train_size)"],
    ),
    (
        "train-metrics-choice",
        {"instruments": {"train_metrics": "all"}},
        ["instruments.train_metrics: got 'all'; must be one of: full, none, probe"],
    ),
    (
        "checkpoint-every-zero",
        {"output": {"checkpoint_every": 0}},
        ["output.checkpoint_every: got 0; must be an integer >= 1"],
    ),
    (
        "section-not-a-mapping",
        {"model": 5},
        [
            "model: got 5; must be a mapping with keys: activation, cost, cost_reduction, init, input, layers, output, sizes"
        ],
    ),
    (
        "run-name-with-slash",
        {"name": "a/b"},
        [
            "name: got 'a/b'; must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            " (it names the run folder)"
        ],
    ),
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)


def errors_of(*args, **kwargs) -> list[str]:
    with pytest.raises(UserError) as info:
        load_config(*args, **kwargs)
    return info.value.lines


def test_the_table_has_at_least_25_bad_configs():
    assert len(BAD_CONFIGS) >= 25


@pytest.mark.parametrize("data, expected", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_gives_exact_lines(in_tmp: Path, data: dict, expected: list[str]):
    write(in_tmp / "cfg.yaml", data)
    assert errors_of("cfg.yaml") == [f"cfg.yaml: {line}" for line in expected]


def test_a_dict_source_is_labelled_dict():
    assert errors_of({"training": {"batch_size": 0}}) == ["<dict>: training.batch_size: got 0; must be an integer >= 1"]


def test_errors_in_different_sections_are_all_reported(in_tmp: Path):
    write(in_tmp / "cfg.yaml", {"model": {"cost": "x"}, "optimizer": {"lr": 1}, "training": {"epochs": "many"}})
    assert len(errors_of("cfg.yaml")) == 3


def test_user_error_exit_code_is_two():
    with pytest.raises(UserError) as info:
        load_config({"foo": 1})
    assert info.value.exit_code == 2


# -- the file itself -------------------------------------------------------------


def test_missing_file(in_tmp: Path):
    assert errors_of("cfg.yaml") == ["cfg.yaml: no such config file"]


def test_directory_instead_of_file(in_tmp: Path):
    (in_tmp / "configs").mkdir()
    assert errors_of("configs") == ["configs: is a directory; expected a YAML config file"]


def test_top_level_not_a_mapping(in_tmp: Path):
    write(in_tmp / "cfg.yaml", "- 1\n- 2\n")
    assert errors_of("cfg.yaml") == [f"cfg.yaml: got [1, 2] at the top level; must be a mapping with keys: {SECTIONS}"]


def test_malformed_yaml_gives_line_and_column(in_tmp: Path):
    write(in_tmp / "cfg.yaml", "model:\n  sizes: [784, 30, 10]\n  cost: cross_entropy\n   output: x\n")
    assert errors_of("cfg.yaml") == ["cfg.yaml: line 4, column 10: malformed YAML: mapping values are not allowed here"]


def test_unclosed_list_gives_line_and_column(in_tmp: Path):
    write(in_tmp / "cfg.yaml", "model:\n  sizes: [784, 30\ntraining: {}\n")
    [line] = errors_of("cfg.yaml")
    assert line.startswith("cfg.yaml: line 3, column 9: malformed YAML: ")


def test_duplicate_key_is_refused_with_its_line(in_tmp: Path):
    write(in_tmp / "cfg.yaml", "model:\n  cost: quadratic\nmodel:\n  cost: cross_entropy\n")
    assert errors_of("cfg.yaml") == ["cfg.yaml: line 3, column 1: duplicate key 'model'; each key may appear once"]


def test_python_tag_is_refused_and_not_executed(in_tmp: Path):
    marker = in_tmp / "pwned"
    write(in_tmp / "cfg.yaml", f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert errors_of("cfg.yaml") == [
        "cfg.yaml: line 1, column 7: tag '!!python/object/apply:os.system' is not allowed; configs hold plain values only"
    ]
    assert not marker.exists()


def test_python_object_tag_is_refused(in_tmp: Path):
    write(in_tmp / "cfg.yaml", "model: !!python/object:collections.OrderedDict {}\n")
    [line] = errors_of("cfg.yaml")
    assert "tag '!!python/object:collections.OrderedDict' is not allowed" in line


# -- overrides -------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, expected",
    [
        ("x", "--set x: expected key.path=value"),
        ("=3", "--set =3: expected key.path=value"),
        ("foo=1", f"--set foo=1: unknown key 'foo'; valid keys: {SECTIONS}"),
        ("modle.sizes=[1]", "--set modle.sizes=[1]: unknown key 'modle'; did you mean 'model'?"),
        (
            "optimizer.lr=0.1",
            "--set optimizer.lr=0.1: unknown key 'optimizer.lr'; did you mean 'optimizer.learning_rate'?",
        ),
        ("model.cost.x=1", "--set model.cost.x=1: unknown key 'model.cost.x'; model.cost takes a single value"),
        (
            "model.sizes[x]=3",
            "--set model.sizes[x]=3: bad key path 'model.sizes[x]'; expected names and [index], like model.sizes[1]",
        ),
        ("model.sizes[5]=3", "--set model.sizes[5]=3: index 5 is out of range; model.sizes has 3 entries"),
        (
            "model.activation[0]=relu",
            "--set model.activation[0]=relu: model.activation is 'sigmoid', not a list;"
            " set the whole list, like model.activation=[...]",
        ),
        (
            "model.sizes=[784,30",
            "--set model.sizes=[784,30: malformed value: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "name=!!python/object/apply:os.system [ls]",
            "--set name=!!python/object/apply:os.system [ls]: tag '!!python/object/apply:os.system'"
            " is not allowed; configs hold plain values only",
        ),
    ],
)
def test_bad_override_gives_exact_line(override: str, expected: str):
    assert errors_of({}, [override]) == [expected]


def test_every_bad_override_is_reported():
    assert len(errors_of({}, ["foo=1", "x", "training.bach_size=3"])) == 3


def test_a_bad_value_set_on_the_command_line_is_labelled_with_the_override(in_tmp: Path):
    write(in_tmp / "cfg.yaml", {"training": {"epochs": -1}})
    assert errors_of("cfg.yaml", ["training.batch_size=0", "optimizer.name=adam", "optimizer.momentum=0.5"]) == [
        "--set optimizer.momentum=0.5: optimizer.momentum: not a parameter of 'adam';"
        " adam takes: delta, learning_rate, rho1, rho2",
        "cfg.yaml: training.epochs: got -1; must be an integer >= 0",
        "--set training.batch_size=0: training.batch_size: got 0; must be an integer >= 1",
    ]


def test_a_parameter_set_on_a_bare_name_is_checked_against_that_name():
    assert errors_of({}, ["model.activation.slope=0.2"]) == [
        "--set model.activation.slope=0.2: model.activation.slope: not a parameter of 'sigmoid'; sigmoid takes no parameters"
    ]
