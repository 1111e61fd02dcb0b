"""`nnlab train` end to end: the run directory, the instruments' numbers, the statuses, the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnlab.build import build_data, build_network
from nnlab.cli.main import cli as main
from nnlab.config import load_config
from nnlab.experiment import run_experiment
from nnlab.instruments import BatchStats, ListSink, ProbeGradients
from nnlab.instruments.layers import activation_stats
from nnlab.network import one_hot
from nnlab.training import Hook, train

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "configs" / "quickstart.yaml")
SMALL = ["data.train_size=400", "data.validation_size=200", "data.test_size=200", "instruments.probe_size=100"]


def small_cfg(*extra: str, epochs: int = 3):
    return load_config(QUICK, SMALL + [f"training.epochs={epochs}", *extra])


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small completed run, shared by the run-directory tests."""
    cfg = small_cfg()
    result = run_experiment(
        cfg, overrides=SMALL, config_file=QUICK, runs_dir=tmp_path_factory.mktemp("runs"), display="quiet"
    )
    return cfg, result


# -- the run directory ---------------------------------------------------------
def test_run_directory_holds_every_file_of_the_contract(run):
    cfg, result = run
    assert result.status == "completed" and result.exit_code == 0
    names = {p.name for p in result.run_dir.iterdir()}
    expected = {
        "config.yaml",
        "overrides.json",
        "meta.json",
        "metrics.csv",
        "gradients.csv",
        "activations.csv",
        "summary.json",
        "accuracy.md",
        "weights.npz",
        "weights-best.npz",
        "optimizer.npz",
        "checkpoint",
    }
    assert expected <= names
    assert result.run_dir.name.endswith("-quickstart")


def test_resolved_config_reloads_to_the_same_config(run):
    cfg, result = run
    again = load_config(str(result.run_dir / "config.yaml"))
    assert again == cfg
    assert json.loads((result.run_dir / "overrides.json").read_text()) == SMALL


def test_meta_records_versions_seed_times_and_status(run):
    cfg, result = run
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["format"] == 1 and meta["status"] == "completed" and meta["error"] is None
    assert meta["seed"] == cfg.training.seed and meta["epochs_completed"] == 3
    assert meta["numpy"] == np.__version__ and meta["started"] <= meta["ended"]


def test_metrics_has_a_row_per_epoch_from_the_untrained_network(run):
    cfg, result = run
    table = rows(result.run_dir / "metrics.csv")
    assert list(table[0]) == [
        "epoch",
        "step",
        "seconds",
        "train_loss",
        "train_accuracy",
        "validation_loss",
        "validation_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
    ]
    assert [int(r["epoch"]) for r in table] == [0, 1, 2, 3]
    assert [int(r["step"]) for r in table] == [0, 40, 80, 120]  # 400 examples / batch 10
    assert all(0.0 <= float(r["validation_accuracy"]) <= 1.0 for r in table)
    assert float(table[-1]["validation_accuracy"]) > float(table[0]["validation_accuracy"]) + 0.3


def test_summary_best_is_the_epoch_with_the_highest_validation_accuracy(run):
    cfg, result = run
    table = rows(result.run_dir / "metrics.csv")[1:]
    accs = [float(r["validation_accuracy"]) for r in table]
    s = json.loads((result.run_dir / "summary.json").read_text())
    assert s["best"]["epoch"] == 1 + accs.index(max(accs))
    assert s["best"]["validation_accuracy"] == max(accs)
    assert s["final"]["validation_accuracy"] == accs[-1] and s["final"]["epoch"] == 3
    grads = rows(result.run_dir / "gradients.csv")
    init = [float(r["value"]) for r in grads if r["quantity"] == "delta_norm" and r["epoch"] == "0"]
    assert s["delta_norms"]["initial"] == init and len(init) == 3
    assert result.summary == s


def test_gradients_and_activations_cover_every_layer_and_epoch(run):
    cfg, result = run
    grads = rows(result.run_dir / "gradients.csv")
    seen = {(r["quantity"], int(r["epoch"]), int(r["layer"])) for r in grads}
    for q in ("delta_norm", "weight_grad_norm"):
        assert {(q, e, l) for e in range(4) for l in (1, 2, 3)} <= seen
    for q in ("batch_grad_norm", "update_ratio"):  # per epoch of training, not at initialization
        assert {(q, e, l) for e in range(1, 4) for l in (1, 2, 3)} <= seen
    acts = rows(result.run_dir / "activations.csv")
    quantities = {r["quantity"] for r in acts}
    assert {"mean", "std", "saturated_fraction"} <= quantities and "dead_fraction" not in quantities


def test_weights_file_loads_into_a_network_of_the_same_config(run):
    cfg, result = run
    net = build_network(cfg, np.random.default_rng(99), n_train=400)
    net.load(result.run_dir / "weights.npz")
    data = build_data(cfg)
    s = json.loads((result.run_dir / "summary.json").read_text())
    assert net.evaluate(data.X_validation, data.y_validation)[1] == s["final"]["validation_accuracy"]


# -- the instruments' numbers -----------------------------------------------------
def test_delta_norm_is_the_norm_of_the_mean_bias_gradient_by_finite_differences():
    cfg = load_config(QUICK, ["training.dtype=float64", "model.sizes=[784,6,5,10]", *SMALL])
    data = build_data(cfg)
    net = build_network(cfg, np.random.default_rng(0), n_train=400)
    X, y = data.X_train[:100], data.y_train[:100]
    sink = ListSink()
    ProbeGradients(sink, X, y).on_train_start(type("S", (), {"step": 0, "epoch": 0, "net": net})())
    Y = one_hot(y, 10, np.float64)
    for l, layer in enumerate(net.layers, start=1):
        numeric = np.zeros_like(layer.b)
        for j in range(len(layer.b)):
            old = layer.b[j]
            layer.b[j] = old + 1e-6
            up = net.loss(X, Y)
            layer.b[j] = old - 1e-6
            down = net.loss(X, Y)
            layer.b[j] = old
            numeric[j] = (up - down) / 2e-6
        assert sink.values("gradients", "delta_norm", l)[0] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


def test_dead_fraction_counts_units_inactive_on_every_probe_example():
    cfg = load_config(QUICK, ["model.activation=relu", "model.sizes=[784,8,10]", *SMALL])
    net = build_network(cfg, np.random.default_rng(0), n_train=400)
    net.layers[0].b[:3] = -1e6  # three units can never fire
    X = build_data(cfg).X_train[:100]
    stats = activation_stats(net, X)
    z = X @ net.layers[0].W + net.layers[0].b
    assert stats["dead_fraction"][0] == ((z <= 0).all(axis=0)).mean() >= 3 / 8
    assert stats["saturated_fraction"][0] is None and stats["dead_fraction"][1] is None


def test_saturated_fraction_uses_one_percent_of_the_largest_slope():
    cfg = load_config(QUICK, ["model.sizes=[784,8,10]", *SMALL])
    net = build_network(cfg, np.random.default_rng(0), n_train=400)
    net.layers[0].W *= 50  # push sigmoid units into saturation
    X = build_data(cfg).X_train[:100]
    stats = activation_stats(net, X)
    a = 1 / (1 + np.exp(-(X.astype(np.float64) @ net.layers[0].W + net.layers[0].b)))
    assert stats["saturated_fraction"][0] == pytest.approx((a * (1 - a) < 0.0025).mean(), abs=0.01)
    assert stats["saturated_fraction"][0] > 0.5


def test_batch_stats_average_the_sampled_steps_of_an_epoch():
    cfg = small_cfg("model.sizes=[784,5,10]", "training.batch_size=100", "training.dtype=float64")
    data = build_data(cfg)
    net = build_network(cfg, np.random.default_rng(0), n_train=400)
    sink = ListSink()

    class Watch(Hook):  # records what BatchStats should average, independently
        grads, ratios = [], []

        def on_gradients(self, state):
            self.grads.append(np.linalg.norm(state.net.layers[0].gW))

        def on_step_end(self, state):
            self.ratios.append(np.linalg.norm(state.updates["W1"]) / np.linalg.norm(state.net.layers[0].W))

    from nnlab.build import build_optimizer

    w = Watch()
    train(
        net,
        build_optimizer(cfg),
        data.X_train,
        data.y_train,
        epochs=1,
        batch_size=100,
        rng=np.random.default_rng(1),
        hooks=[BatchStats(sink, every=2), w],
    )
    assert sink.values("gradients", "batch_grad_norm", 1) == pytest.approx([np.mean(w.grads[::2])])
    assert sink.values("gradients", "update_ratio", 1) == pytest.approx([np.mean(w.ratios[::2])])


# -- endings ------------------------------------------------------------------------
class RaiseAt(Hook):
    def __init__(self, epoch: int, exc: BaseException) -> None:
        self.epoch, self.exc = epoch, exc

    def on_epoch_end(self, state):
        if state.epoch == self.epoch:
            raise self.exc


def _meta(run_dir: Path) -> dict:
    return json.loads((run_dir / "meta.json").read_text())


def test_ctrl_c_records_interrupted_keeps_history_and_reraises(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_experiment(small_cfg(epochs=5), runs_dir=tmp_path, display="quiet", hooks=[RaiseAt(2, KeyboardInterrupt())])
    (run_dir,) = tmp_path.iterdir()
    meta = _meta(run_dir)
    assert meta["status"] == "interrupted" and meta["epochs_completed"] == 2
    assert [r["epoch"] for r in rows(run_dir / "metrics.csv")] == ["0", "1", "2"]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert not (run_dir / "weights.npz").exists()  # not a completed-looking run


def test_an_unexpected_error_records_failed_with_the_error(tmp_path):
    result = run_experiment(
        small_cfg(), runs_dir=tmp_path, display="quiet", hooks=[RaiseAt(1, RuntimeError("disk on fire"))]
    )
    assert result.status == "failed" and result.exit_code == 1
    meta = _meta(result.run_dir)
    assert meta["status"] == "failed" and meta["error"] == "RuntimeError: disk on fire"
    assert "Traceback" in meta["traceback"]


def test_divergence_ends_with_status_diverged_naming_epoch_and_layer(tmp_path):
    cfg = small_cfg("model.activation=relu", "optimizer.learning_rate=1000000.0")
    result = run_experiment(cfg, runs_dir=tmp_path, display="quiet")
    assert result.status == "diverged" and result.exit_code == 3
    assert result.error.startswith("training diverged in epoch 1 (step ")
    assert "first in W" in result.error
    assert _meta(result.run_dir)["status"] == "diverged"
    assert [r["epoch"] for r in rows(result.run_dir / "metrics.csv")] == ["0"]


def test_cli_divergence_prints_one_line_and_exits_3_without_warnings(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nnlab.cli.main",
            "train",
            QUICK,
            "--runs-dir",
            str(tmp_path),
            "-q",
            *[f"--set={s}" for s in SMALL],
            "--set",
            "model.activation=relu",
            "--set",
            "optimizer.learning_rate=1e6",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 3
    assert out.stderr.startswith("error: diverged: training diverged in epoch 1")
    assert len(out.stderr.strip().splitlines()) == 1  # no RuntimeWarning, no traceback


def test_same_seed_gives_identical_runs(tmp_path):
    a = run_experiment(small_cfg("regularization.dropout=0.2", epochs=2), runs_dir=tmp_path / "a", display="quiet")
    b = run_experiment(small_cfg("regularization.dropout=0.2", epochs=2), runs_dir=tmp_path / "b", display="quiet")
    assert (a.run_dir / "gradients.csv").read_text() == (b.run_dir / "gradients.csv").read_text()
    assert (a.run_dir / "weights.npz").read_bytes() == (b.run_dir / "weights.npz").read_bytes()


def test_missing_mnist_says_how_to_get_it_and_creates_no_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "empty"))
    out = CliRunner().invoke(
        main, ["train", QUICK, "--set", "data.dataset=mnist", "--runs-dir", str(tmp_path / "runs")]
    )
    assert out.exit_code == 2
    assert "nnlab data fetch mnist" in out.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# -- the command line ---------------------------------------------------------------
def test_dry_run_prints_the_resolved_config_with_overrides(tmp_path):
    out = CliRunner().invoke(
        main, ["train", QUICK, "--dry-run", "--set", "optimizer.name=adam", "--set", "training.epochs=2"]
    )
    assert out.exit_code == 0
    printed = yaml.safe_load(out.output)
    assert printed["optimizer"]["name"] == "adam" and printed["training"]["epochs"] == 2
    assert printed["optimizer"]["rho1"] == 0.9  # Adam's defaults filled in
    assert load_config(printed) == load_config(QUICK, ["optimizer.name=adam", "training.epochs=2"])


def test_smoke_runs_any_config_small_with_every_instrument(tmp_path):
    out = CliRunner().invoke(
        main,
        [
            "train",
            QUICK,
            "--smoke",
            "--runs-dir",
            str(tmp_path),
            "--quiet",
            "--set",
            "instruments.activations=false",
            "--set",
            "training.epochs=50",
        ],
    )
    assert out.exit_code == 0, out.output
    (run_dir,) = tmp_path.iterdir()
    cfg = load_config(str(run_dir / "config.yaml"))
    assert cfg.training.epochs == 1 and cfg.data.train_size == 300 and cfg.instruments.activations
    assert len(rows(run_dir / "activations.csv")) > 0
    assert out.output.strip() == str(run_dir)


def test_validate_reports_each_bad_config_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  activation: sigmoidd\n")
    out = CliRunner().invoke(main, ["validate", QUICK, str(bad)])
    assert out.exit_code == 2
    assert f"ok: {QUICK}" in out.output
    assert f"error: {bad}: model.activation: " in out.output


def test_resume_without_a_run_dir_is_a_user_error(tmp_path):
    out = CliRunner().invoke(main, ["train", "--resume", str(tmp_path)])
    assert out.exit_code == 2
    assert out.output.strip() == f"error: {tmp_path}: not a run directory (no meta.json)"


def test_help_and_version_do_not_import_matplotlib():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom nnlab.cli.main import cli as main\n"
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0\n"
        "r = CliRunner().invoke(main, ['--version']); assert r.exit_code == 0, r.output\n"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "env, expected",
    [({}, "1"), ({"NNLAB_BLAS_THREADS": "2"}, "2"), ({"OPENBLAS_NUM_THREADS": "4"}, "4")],
)
def test_the_cli_uses_one_blas_thread_unless_told_otherwise(env, expected):
    import os

    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNLAB_BLAS_THREADS")
    }
    code = "import os; from nnlab.cli.main import limit_blas_threads; limit_blas_threads(); print(os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
