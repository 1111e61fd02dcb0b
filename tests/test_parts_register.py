"""Parts describe themselves: an activation and an optimizer added here, in this file only, are parts like
any other. Declared once (hyperparameters with type, default and bounds; the activation's role), they are
usable from YAML, checked with exact lines, suggested when misspelt, dumped with their defaults, built and
trained; and they are gone again after each test.

Also: a shipped config's --dry-run output is what it was before the declarations moved into the parts, and
``nnlab.config`` still imports without NumPy.
"""

from __future__ import annotations

import contextlib
import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnlab.activations import ACTIVATIONS, Activation
from nnlab.build import build_network, build_optimizer
from nnlab.cli.main import cli
from nnlab.config import ActivationSpec, dump_config, load_config
from nnlab.errors import UserError
from nnlab.experiment import run_experiment
from nnlab.hyper import Hyper
from nnlab.optimizers import OPTIMIZERS, Optimizer

ROOT = Path(__file__).resolve().parents[1]


class ScaledTanh(Activation):
    """f(z) = A tanh(S z) (LeCun et al. 1998: A = 1.7159, S = 2/3);  f'(z) = S (A - f²/A)."""

    name = "scaled_tanh"
    hyper = {
        "amplitude": Hyper(float, 1.7159, gt=0, doc="A"),
        "gain": Hyper(float, 0.5, gt=0, lt=10, doc="S"),
    }
    role = "hidden"
    saturating = True

    def f(self, z):
        return self.amplitude * np.tanh(self.gain * z)

    def df(self, z, a):
        return self.gain * (self.amplitude - a * a / self.amplitude)


class Signum(Optimizer):
    """m ← βm + (1-β)g;  θ ← θ - ε sign(m)  (sign SGD with momentum, Bernstein et al. 2018)."""

    name = "signum"
    slots = ("m",)
    elementwise = True
    default_learning_rate = 0.002
    hyper = {"beta": Hyper(float, 0.9, ge=0, lt=1, doc="β, decay of the average of g")}

    def update(self, grads, state):
        state["t"] += 1
        for k, g in grads.items():
            m = state[f"m.{k}"]
            m *= self.beta
            m += (1.0 - self.beta) * g
            np.sign(m, out=g)
            g *= -self.learning_rate
        return grads


@contextlib.contextmanager
def added_parts() -> Iterator[None]:
    """scaled_tanh and signum registered for the duration of the block, whatever happens in it."""
    ACTIVATIONS.register("scaled_tanh")(ScaledTanh)
    try:
        OPTIMIZERS.register("signum")(Signum)
        try:
            yield
        finally:
            OPTIMIZERS.unregister("signum")
    finally:
        ACTIVATIONS.unregister("scaled_tanh")


@pytest.fixture
def parts() -> Iterator[None]:
    with added_parts():
        yield


CONFIG = {
    "name": "parts",
    "model": {
        "sizes": [784, 16, 10],
        "activation": {"name": "scaled_tanh", "gain": 0.25},
        "output": "softmax",
        "cost": "log_likelihood",
    },
    "optimizer": {"name": "signum"},
    "data": {"dataset": "mnist-mini", "train_size": 500, "validation_size": 200, "test_size": 200},
    "training": {"epochs": 3, "batch_size": 10},
    "instruments": {"probe_size": 100},
}
HIDDEN = "elu, gelu, gelu_tanh, identity, leaky_relu, prelu, relu, scaled_tanh, sigmoid, softplus, swish, tanh"
OUTPUTS = "elu, gelu, gelu_tanh, identity, leaky_relu, relu, sigmoid, softmax, softplus, swish, tanh"


def write(path: Path, data: dict) -> Path:
    """``data`` as YAML at ``path``; returned relative to the working folder (the tests run in tmp_path)."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return Path(path.name)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # error lines name the file as given: cfg.yaml


def errors(path: Path, overrides=()) -> list[str]:
    with pytest.raises(UserError) as info:
        load_config(path, list(overrides))
    return info.value.lines


def with_(**sections) -> dict:
    return {**CONFIG, **{k: {**CONFIG[k], **v} for k, v in sections.items()}}


def test_the_new_parts_load_from_yaml_with_their_declared_defaults_filled_in(parts, tmp_path: Path):
    cfg = load_config(write(tmp_path / "cfg.yaml", CONFIG))
    assert cfg.model.activation == ActivationSpec(name="scaled_tanh", params={"amplitude": 1.7159, "gain": 0.25})
    assert cfg.optimizer.params == {"learning_rate": 0.002, "beta": 0.9}  # signum's own default learning rate
    assert cfg.optimizer.beta == 0.9
    dumped = dump_config(cfg)
    assert "activation: {name: scaled_tanh, amplitude: 1.7159, gain: 0.25}" in dumped
    assert "optimizer:\n  name: signum\n  learning_rate: 0.002\n  beta: 0.9\n" in dumped
    assert load_config(yaml.safe_load(dumped)) == cfg  # the dump loads back as the same config


def test_the_new_parts_are_built_with_the_configured_values(parts, tmp_path: Path):
    cfg = load_config(write(tmp_path / "cfg.yaml", CONFIG), ["optimizer.beta=0.5"])
    net = build_network(cfg, np.random.default_rng(0))
    act = net.layers[0].activation
    assert isinstance(act, ScaledTanh) and act.hyperparams() == {"amplitude": 1.7159, "gain": 0.25}
    opt = build_optimizer(cfg)
    assert isinstance(opt, Signum) and opt.hyperparams() == {"learning_rate": 0.002, "beta": 0.5}
    # two steps by hand, β = 0.5: m1 = 0.5 g1 = [0.5, -0.5]; m2 = 0.5 m1 + 0.5 g2 = [-1.25, 0]
    state = opt.init({"w": np.zeros(2)})
    assert opt.update({"w": np.array([1.0, -1.0])}, state)["w"].tolist() == [-0.002, 0.002]
    assert opt.update({"w": np.array([-3.0, 0.5])}, state)["w"].tolist() == [0.002, 0.0]
    # the activation's f' against central differences
    z = np.linspace(-4, 4, 17)
    numeric = (act.f(z + 1e-6) - act.f(z - 1e-6)) / 2e-6
    assert np.allclose(act.df(z, act.f(z)), numeric, rtol=1e-6, atol=1e-9)


def test_a_short_run_trains_and_saves_the_declared_values(parts, tmp_path: Path):
    result = run_experiment(
        load_config(write(tmp_path / "cfg.yaml", CONFIG)), runs_dir=tmp_path / "runs", display="quiet"
    )
    assert result.status == "completed"
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["model"]["activation"] == {"name": "scaled_tanh", "amplitude": 1.7159, "gain": 0.25}
    assert saved["optimizer"] == {"name": "signum", "learning_rate": 0.002, "beta": 0.9}
    with open(result.run_dir / "metrics.csv", newline="") as f:
        loss = [float(row["validation_loss"]) for row in csv.DictReader(f)]
    assert len(loss) == 4 and loss[-1] < loss[0]  # epoch 0 (before training) and three epochs: it learns


def test_bad_values_of_their_hyperparameters_are_exact_lines(parts, tmp_path: Path):
    bad = with_(model={"activation": {"name": "scaled_tanh", "gain": 10}}, optimizer={"beta": 1.0})
    assert errors(write(tmp_path / "cfg.yaml", bad)) == [
        "cfg.yaml: model.activation.gain: got 10; must be a number in (0, 10)",
        "cfg.yaml: optimizer.beta: got 1.0; must be a number in [0, 1)",
    ]
    path = write(tmp_path / "ok.yaml", CONFIG)
    assert errors(path, ["model.activation.amplitude=-1", "optimizer.beta=x"]) == [
        "--set model.activation.amplitude=-1: model.activation.amplitude: got -1; must be a finite number > 0",
        "--set optimizer.beta=x: optimizer.beta: got 'x'; must be a number in [0, 1)",
    ]


def test_misspelt_names_and_parameters_get_did_you_mean(parts, tmp_path: Path):
    bad = with_(model={"activation": "scaled_tanhh"}, optimizer={"name": "signun"})
    assert errors(write(tmp_path / "cfg.yaml", bad)) == [
        f"cfg.yaml: model.activation: unknown activation 'scaled_tanhh'; valid: {HIDDEN} (did you mean 'scaled_tanh'?)",
        "cfg.yaml: optimizer.name: unknown optimizer 'signun'; valid: adagrad, adam, momentum, rmsprop, sgd, signum"
        " (did you mean 'signum'?)",
    ]
    bad = with_(model={"activation": {"name": "scaled_tanh", "gian": 0.5}}, optimizer={"betta": 0.5, "rho1": 0.5})
    assert errors(write(tmp_path / "cfg.yaml", bad)) == [
        "cfg.yaml: model.activation.gian: not a parameter of 'scaled_tanh'; scaled_tanh takes: amplitude, gain"
        " (did you mean 'gain'?)",
        "cfg.yaml: optimizer.rho1: not a parameter of 'signum'; signum takes: beta, learning_rate",
        "cfg.yaml: optimizer.betta: unknown key; did you mean 'beta'?",
    ]


def test_the_declared_role_is_enforced(parts, tmp_path: Path):
    bad = with_(model={"output": "scaled_tanh", "cost": "quadratic"})
    assert errors(write(tmp_path / "cfg.yaml", bad)) == [
        f"cfg.yaml: model.output: 'scaled_tanh' is not allowed as the output activation; valid: {OUTPUTS}"
    ]
    # in model.layers the last layer is the output layer: roles hold there too
    layers = [
        {"kind": "dense", "units": 20, "activation": "softmax"},
        {"kind": "dense", "units": 20, "activation": "scaled_tanh"},
        {"kind": "dense", "units": 10, "activation": {"name": "scaled_tanh", "gain": 0.1}},
    ]
    bad = with_(model={"sizes": None, "layers": layers})
    assert errors(write(tmp_path / "cfg.yaml", bad)) == [
        "cfg.yaml: model.layers[0].activation: 'softmax' is only allowed as the output activation (the last layer);"
        f" valid: {HIDDEN}",
        f"cfg.yaml: model.layers[2].activation: 'scaled_tanh' is not allowed as the output activation; valid: {OUTPUTS}",
    ]
    layers[0]["activation"], layers[2]["activation"] = "scaled_tanh", "softmax"
    assert load_config(write(tmp_path / "cfg.yaml", with_(model={"sizes": None, "layers": layers}))).model.layers


def test_the_cli_dry_run_shows_and_refuses_them(parts, tmp_path: Path):
    path = str(write(tmp_path / "cfg.yaml", CONFIG))
    out = CliRunner().invoke(cli, ["train", path, "--dry-run", "--set", "optimizer.beta=0.8"])
    assert out.exit_code == 0, out.output
    assert "optimizer:\n  name: signum\n  learning_rate: 0.002\n  beta: 0.8\n" in out.output
    out = CliRunner().invoke(cli, ["train", path, "--dry-run", "--set", "optimizer.beta=2"])
    assert out.exit_code == 2
    assert out.output == "error: --set optimizer.beta=2: optimizer.beta: got 2; must be a number in [0, 1)\n"


def test_the_parts_are_gone_after_the_block(tmp_path: Path):
    path = write(tmp_path / "cfg.yaml", CONFIG)
    with added_parts():
        load_config(path)
    assert "scaled_tanh" not in ACTIVATIONS and "signum" not in OPTIMIZERS
    assert errors(path) == [
        "cfg.yaml: model.activation.name: unknown activation 'scaled_tanh'; valid: elu, gelu, gelu_tanh, identity,"
        " leaky_relu, prelu, relu, sigmoid, softplus, swish, tanh (did you mean 'gelu_tanh'?)",
        "cfg.yaml: optimizer.name: unknown optimizer 'signum'; valid: adagrad, adam, momentum, rmsprop, sgd",
    ]


def test_a_part_takes_its_values_and_defaults_from_its_declaration():
    from nnlab.activations import make_activation
    from nnlab.optimizers import make_optimizer

    assert make_activation("elu").alpha == 1.0 and make_activation("elu", alpha=0.5).alpha == 0.5
    assert make_optimizer("adam").hyperparams() == {"learning_rate": 0.001, "rho1": 0.9, "rho2": 0.999, "delta": 1e-8}
    with pytest.raises(TypeError, match="elu takes no hyperparameter 'alhpa'; it takes: alpha"):
        make_activation("elu", alhpa=0.5)
    with pytest.raises(TypeError, match="sgd takes no hyperparameter 'momentum'; it takes: none"):
        make_optimizer("sgd", momentum=0.9)
    with pytest.raises(TypeError, match="Hyper kind must be int, float or bool"):
        Hyper(str, "x")
    with pytest.raises(TypeError, match="gt and lt bound float hyperparameters only"):
        Hyper(int, 1, gt=0)


# -- what the declarations replaced gives what it gave ----------------------------

# `nnlab train examples/optimizer-sgd --dry-run --set optimizer=adam`, as printed before the optimizers
# declared their hyperparameters (then: OPTIMIZER_PARAMS and LEARNING_RATES in nnlab/config/parts.py)
ADAM_DRY_RUN = """\
name: optimizer-sgd
model:
  sizes: [784, 30, 10]
  activation: sigmoid
  output: sigmoid
  cost: cross_entropy
  cost_reduction: sum
  init:
    weights: nielsen
    biases: standard_normal
optimizer:
  name: adam
  learning_rate: 0.001
  rho1: 0.9
  rho2: 0.999
  delta: 1.0e-08
regularization:
  l2: 0.0
  dropout: 0.0
  clip_norm: null
training:
  epochs: 5
  batch_size: 10
  seed: 0
  dtype: float32
  early_stopping: null
  full_batch: false
data:
  dataset: mnist-mini
  split: nielsen
  path: null
  train_size: null
  validation_size: null
  test_size: null
  pixel_scale: 255.0
instruments:
  probe_size: 1000
  gradients: true
  gradients_every_steps: null
  batch_stats: true
  batch_stats_every: 10
  activations: true
  distance: true
  distance_every_steps: null
  per_sample: false
  per_sample_every_steps: null
  histograms: false
  histograms_every_steps: null
  histogram_bins: 48
  hessian: false
  hessian_every_steps: null
  hessian_iterations: 20
  hessian_batch: 256
  train_metrics: probe
output:
  runs_dir: runs
  checkpoint_every: 1
  tensorboard: false
  strict: false
"""


def test_a_shipped_configs_dry_run_is_unchanged_with_the_defaults_from_the_declarations():
    out = CliRunner().invoke(cli, ["train", "examples/optimizer-sgd", "--dry-run", "--set", "optimizer=adam"])
    assert out.exit_code == 0, out.output
    config, memory = out.output.rsplit("# memory: ", 1)  # the dry run ends with the memory estimate, a comment
    assert config == ADAM_DRY_RUN and memory.startswith("the run needs about ")


def test_the_config_package_imports_without_numpy():
    code = "import sys, nnlab.config, nnlab.config.parts; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr
