"""Loading, defaults, overrides and the dump -> load round trip of configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from nnlab.activations import ACTIVATIONS
from nnlab.config import (
    ActivationSpec,
    Config,
    InitSpec,
    apply_overrides,
    config_to_dict,
    dropout_rates,
    dump_config,
    hidden_activations,
    load_config,
    validate_against_data,
)
from nnlab.errors import UserError
from nnlab.initializers import INITIALIZERS
from nnlab.optimizers import OPTIMIZERS

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (REPO / "configs").rglob("*.yaml") if "sweeps" not in p.parts)  # sweeps: test_sweep.py


# -- defaults ----------------------------------------------------------------------


def test_defaults_are_nielsens_network2():
    cfg = load_config({})
    m = cfg.model
    assert m.sizes == [784, 30, 10]
    assert m.activation == ActivationSpec(name="sigmoid") and m.output == ActivationSpec(name="sigmoid")
    assert (m.cost, m.cost_reduction) == ("cross_entropy", "sum")
    assert m.init.weights == InitSpec(name="nielsen")  # N(0, 1/n_in)
    assert m.init.biases == InitSpec(name="standard_normal")  # N(0, 1)
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.params == {"learning_rate": 0.1}
    assert (cfg.regularization.l2, cfg.regularization.dropout, cfg.regularization.clip_norm) == (0.0, 0.0, None)
    t = cfg.training
    assert (t.epochs, t.batch_size, t.seed, t.early_stopping, t.full_batch) == (30, 10, 0, None, False)
    assert (cfg.data.dataset, cfg.data.split, cfg.data.pixel_scale) == ("mnist", "nielsen", 255.0)
    assert cfg.data.n_train == 50_000


def test_an_empty_file_and_empty_sections_mean_all_defaults(tmp_path: Path):
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "blank.yaml").write_text("model:\noptimizer:\n")
    base = config_to_dict(load_config({}))
    for name in ("empty", "blank"):
        got = config_to_dict(load_config(tmp_path / f"{name}.yaml"))
        assert got == {**base, "name": name}


def test_optimizer_defaults_fill_only_its_own_parameters():
    assert load_config({"optimizer": {"name": "adam"}}).optimizer.params == {
        "learning_rate": 0.001,
        "rho1": 0.9,
        "rho2": 0.999,
        "delta": 1e-8,
    }
    assert load_config({"optimizer": "momentum"}).optimizer.params == {
        "learning_rate": 0.1,
        "momentum": 0.9,
        "nesterov": False,
    }
    assert load_config({"optimizer": {"name": "rmsprop", "learning_rate": 0.01}}).optimizer.params == {
        "learning_rate": 0.01,
        "rho": 0.9,
        "delta": 1e-6,
    }


def test_activation_parameters_get_their_defaults():
    cfg = load_config({"model": {"activation": "leaky_relu", "init": {"weights": "normal"}}})
    assert cfg.model.activation.params == {"slope": 0.01}
    assert cfg.model.init.weights.params == {"std": 0.01}


def test_run_name_defaults_to_base_name_then_file_stem(tmp_path: Path):
    (tmp_path / "my deep net.yaml").write_text("training: {epochs: 1}\n")
    assert load_config(tmp_path / "my deep net.yaml").name == "my-deep-net"
    assert load_config(tmp_path / "my deep net.yaml", base_name="sweep-3").name == "sweep-3"
    assert load_config({}).name == "run"
    assert load_config({"name": "mine"}, base_name="other").name == "mine"


def test_full_batch_resolves_the_batch_size_from_the_data_section():
    cfg = load_config({"training": {"full_batch": True}, "data": {"dataset": "mnist-mini", "train_size": 1000}})
    assert cfg.training.batch_size == 1000
    assert (
        load_config({"training": {"full_batch": True}, "data": {"dataset": "mnist-mini"}}).training.batch_size == 5000
    )


def test_hidden_activations_and_dropout_rates_are_one_per_hidden_layer():
    cfg = load_config({"model": {"sizes": [784, 30, 30, 30, 10], "activation": "relu"}})
    assert hidden_activations(cfg) == [ActivationSpec(name="relu")] * 3
    assert dropout_rates(cfg) == [0.0, 0.0, 0.0]
    cfg = load_config(
        {
            "model": {"sizes": [784, 30, 30, 10], "activation": ["tanh", {"name": "elu", "alpha": 0.5}]},
            "regularization": {"dropout": [0.2, 0.5]},
        }
    )
    assert hidden_activations(cfg) == [ActivationSpec(name="tanh"), ActivationSpec(name="elu", params={"alpha": 0.5})]
    assert dropout_rates(cfg) == [0.2, 0.5]


def test_numbers_written_as_text_are_read_as_numbers(tmp_path: Path):
    # PyYAML reads 1e-3 (no dot) as the string '1e-3'
    (tmp_path / "cfg.yaml").write_text(
        "optimizer: {name: adam, learning_rate: 1e-3, delta: 1e-7}\ndata: {train_size: 1e4}\n"
    )
    cfg = load_config(tmp_path / "cfg.yaml")
    assert cfg.optimizer.learning_rate == 0.001 and cfg.optimizer.delta == 1e-7
    assert cfg.data.train_size == 10_000


def test_validate_against_data_refuses_a_batch_larger_than_the_loaded_training_set():
    cfg = load_config({"training": {"batch_size": 100}})
    validate_against_data(cfg, 50_000)
    with pytest.raises(UserError) as info:
        validate_against_data(cfg, 50, label="cfg.yaml")
    assert info.value.lines == [
        "cfg.yaml: training.batch_size: got 100; must be at most 50, the training-set size",
        "cfg.yaml: instruments.probe_size: got 1000; must be at most 50, the training-set size",
    ]


def test_configs_are_frozen():
    cfg = load_config({})
    with pytest.raises(Exception):
        cfg.training.epochs = 3  # type: ignore[misc]


# -- overrides ---------------------------------------------------------------------


def test_overrides_set_nested_keys_and_lists():
    cfg = load_config(
        {"optimizer": {"name": "sgd", "learning_rate": 0.5}},
        [
            "model.sizes=[784, 100, 100, 10]",
            "model.activation=[relu, tanh]",
            "optimizer.name=adam",
            "training.epochs=3",
        ],
    )
    assert cfg.model.sizes == [784, 100, 100, 10]
    assert hidden_activations(cfg) == [ActivationSpec(name="relu"), ActivationSpec(name="tanh")]
    assert cfg.optimizer.name == "adam" and cfg.optimizer.learning_rate == 0.5  # the file's η stays
    assert cfg.training.epochs == 3


def test_overrides_index_into_lists_starting_from_the_defaults():
    cfg = load_config({}, ["model.sizes[1]=100", "model.sizes[-1]=10"])
    assert cfg.model.sizes == [784, 100, 10]
    cfg = load_config(
        {"model": {"sizes": [784, 30, 30, 10], "activation": ["relu", "leaky_relu"]}},
        ["model.activation[1].slope=0.3", "regularization.dropout=[0.1, 0.2]", "regularization.dropout[0]=0.5"],
    )
    assert hidden_activations(cfg)[1] == ActivationSpec(name="leaky_relu", params={"slope": 0.3})
    assert dropout_rates(cfg) == [0.5, 0.2]


def test_override_parameter_turns_a_bare_name_into_a_mapping():
    cfg = load_config(
        {}, ["model.activation=leaky_relu", "model.activation.slope=0.2", "model.init.weights.name=normal"]
    )
    assert cfg.model.activation == ActivationSpec(name="leaky_relu", params={"slope": 0.2})
    assert cfg.model.init.weights == InitSpec(name="normal", params={"std": 0.01})


def test_override_values_are_coerced_from_text():
    cfg = load_config(
        {},
        [
            "optimizer.learning_rate=1e-3",
            "training.epochs='5'",
            "training.full_batch=yes",
            "regularization.l2=5",
            "data.path=",
            "regularization.clip_norm=null",
        ],
    )
    assert cfg.optimizer.learning_rate == 0.001
    assert cfg.training.epochs == 5 and cfg.training.full_batch is True and cfg.training.batch_size == 50_000
    assert cfg.regularization.l2 == 5.0 and isinstance(cfg.regularization.l2, float)
    assert cfg.data.path is None and cfg.regularization.clip_norm is None


def test_later_overrides_win_and_values_may_contain_equals():
    cfg = load_config({}, ["training.epochs=3", "training.epochs=4", "data.path=/data/a=b"])
    assert cfg.training.epochs == 4 and cfg.data.path == "/data/a=b"


def test_apply_overrides_returns_a_new_dict_and_leaves_the_input_alone():
    d = {"model": {"sizes": [784, 30, 10]}}
    out = apply_overrides(d, ["model.sizes[1]=50", "optimizer.name=adam"])
    assert out == {"model": {"sizes": [784, 50, 10]}, "optimizer": {"name": "adam"}}
    assert d == {"model": {"sizes": [784, 30, 10]}}


def test_load_config_does_not_modify_a_dict_source():
    d = {"optimizer": {"name": "adam"}, "training": {"full_batch": True}}
    load_config(d, ["model.sizes[1]=50"])
    assert d == {"optimizer": {"name": "adam"}, "training": {"full_batch": True}}


# -- round trip --------------------------------------------------------------------

ROUND_TRIP = [
    {},
    {"model": {"sizes": [784, 30, 30, 30, 10], "activation": "relu", "init": {"weights": "he"}}},
    {
        "name": "mixed",
        "model": {
            "sizes": [784, 100, 50, 10],
            "activation": ["prelu", {"name": "swish", "beta": 2.0}],
            "output": "softmax",
            "cost": "log_likelihood",
            "init": {"weights": {"name": "normal", "std": 0.05}, "biases": "zeros"},
        },
        "optimizer": {"name": "momentum", "learning_rate": 0.02, "nesterov": True},
        "regularization": {"l2": 5.0, "dropout": [0.5, 0.2], "clip_norm": 10},
        "training": {"epochs": 0, "dtype": "float64", "early_stopping": 5, "seed": 7},
        "data": {"dataset": "mnist", "split": "first10k", "path": "~/mnist", "validation_size": 2000},
        "instruments": {"gradients_every_steps": 50, "train_metrics": "full"},
        "output": {"runs_dir": "out", "checkpoint_every": 5},
    },
    {
        "optimizer": {"name": "adam", "learning_rate": 3e-4},
        "training": {"full_batch": True},
        "data": {"dataset": "mnist-mini", "train_size": 1000},
    },
    {"model": {"output": {"name": "leaky_relu", "slope": 0.2}, "cost": "quadratic", "cost_reduction": "mean"}},
]


@pytest.mark.parametrize("data", ROUND_TRIP)
def test_dump_then_load_gives_the_same_config(data: dict, tmp_path: Path):
    cfg = load_config(data)
    assert load_config(config_to_dict(cfg)) == cfg
    (tmp_path / "c.yaml").write_text(dump_config(cfg))
    assert load_config(tmp_path / "c.yaml") == cfg
    assert yaml.safe_load(dump_config(cfg)) == config_to_dict(cfg)


def test_dump_lists_every_key_in_schema_order():
    text = dump_config(load_config({"model": {"activation": {"name": "leaky_relu", "slope": 0.1}}}))
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert keys == ["name", "model", "optimizer", "regularization", "training", "data", "instruments", "output"]
    assert "  sizes: [784, 30, 10]\n" in text
    assert "  activation: {name: leaky_relu, slope: 0.1}\n" in text


def test_config_to_dict_is_plain_data():
    def plain(x) -> bool:
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or isinstance(x, (str, int, float, bool))

    assert plain(config_to_dict(load_config(ROUND_TRIP[2])))


# -- shipped configs and the contract with the engine ------------------------------------


def test_there_are_shipped_configs():
    names = {p.name for p in SHIPPED}
    assert "quickstart.yaml" in names
    for part in ("sgd", "momentum", "adagrad", "rmsprop", "adam"):
        assert f"optimizer-{part}.yaml" in names
    for part in ("cross_entropy", "log_likelihood", "quadratic"):
        assert f"cost-{part}.yaml" in names


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_every_shipped_config_loads_and_round_trips(path: Path):
    cfg = load_config(path)
    assert load_config(config_to_dict(cfg)) == cfg


def test_examples_run_on_the_embedded_data():
    for path in SHIPPED:
        if path.parent.name == "examples" or path.name == "quickstart.yaml":
            assert load_config(path).data.dataset == "mnist-mini", path


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_the_engine_accepts_every_initializers_resolved_parameters(name: str):
    import inspect

    spec = load_config({"model": {"init": {"weights": name}}}).model.init.weights
    fn = INITIALIZERS.get(name)
    takes = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert takes == list(spec.params)  # the keyword-only parameters, exactly the declared ones
    assert fn(np.random.default_rng(0), (3, 2), 3, 2, **spec.params).shape == (3, 2)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_the_engine_accepts_every_optimizers_resolved_parameters(name: str):
    from nnlab.optimizers import make_optimizer

    cfg = load_config({"optimizer": {"name": name}})
    opt = make_optimizer(cfg.optimizer.name, **cfg.optimizer.params)
    assert opt.hyperparams() == cfg.optimizer.params


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_the_engine_accepts_every_activations_resolved_parameters(name: str):
    from nnlab.activations import make_activation

    spec = load_config(
        {"model": {"output": name, "cost": "quadratic"}} if name != "prelu" else {"model": {"activation": name}}
    )
    spec = spec.model.output if name != "prelu" else spec.model.activation
    assert make_activation(spec.name, **spec.params).hyperparams() == spec.params


def test_a_config_can_be_built_directly_with_defaults():
    assert Config() == load_config({"name": "run"})
