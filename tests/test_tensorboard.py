"""output.tensorboard: event files that TensorBoard's own reader reads back as the CSVs' values.

The runs are small quick-start runs on the embedded data; the reader is
TensorBoard's EventAccumulator (the dev extra installs tensorboard for it).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.errors import UserError
from nnlab.experiment import run_experiment
from nnlab.io import load_npz
from nnlab.training import Hook

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "configs" / "quickstart.yaml")
SMALL = ["data.train_size=300", "data.validation_size=100", "data.test_size=100", "instruments.probe_size=100"]


def events(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def scalars(acc, tag: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for e in acc.Scalars(tag):
        assert e.step not in out, f"{tag}: step {e.step} twice"
        out[e.step] = e.value
    return out


def expected_scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    """Every value of metrics.csv, gradients.csv and activations.csv, by the tag it should have."""
    want: dict[str, dict[int, float]] = {}
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            for column, cell in row.items():
                if column not in ("epoch", "step") and cell != "":
                    want.setdefault(f"metrics/{column}", {})[int(row["step"])] = float(cell)
    for table in ("gradients", "activations"):
        with open(run_dir / f"{table}.csv", newline="") as f:
            for row in csv.DictReader(f):
                tag = f"{table}/{row['quantity']}/{row['label']}"
                want.setdefault(tag, {})[int(row["step"])] = float(row["value"])
    return want


def assert_events_match_csvs(run_dir: Path) -> None:
    acc = events(run_dir)
    want = expected_scalars(run_dir)
    assert sorted(acc.Tags()["scalars"]) == sorted(want)
    for tag, values in want.items():
        got = scalars(acc, tag)
        assert sorted(got) == sorted(values), tag
        for step, value in values.items():
            assert got[step] == pytest.approx(value, rel=1e-6, abs=1e-12), (tag, step)


def test_event_files_hold_every_csv_value_at_its_step(tmp_path):
    cfg = load_config(QUICK, [*SMALL, "training.epochs=3", "output.tensorboard=true"])
    result = run_experiment(cfg, runs_dir=tmp_path, display="quiet")
    assert result.status == "completed"
    assert_events_match_csvs(result.run_dir)
    tags = set(expected_scalars(result.run_dir))
    for quantity in ("delta_norm", "update_ratio", "weight_grad_norm"):  # quickstart: 784-30-30-10
        assert {f"gradients/{quantity}/{label}" for label in ("dense1", "dense2", "output")} <= tags
    assert "activations/saturated_fraction/dense1" in tags and "metrics/validation_accuracy" in tags


def test_histograms_of_each_parameter_at_init_and_each_epoch_end_match_the_weights(tmp_path):
    cfg = load_config(QUICK, [*SMALL, "training.epochs=2", "output.tensorboard=true"])
    result = run_experiment(cfg, runs_dir=tmp_path, display="quiet")
    acc = events(result.run_dir)
    weights = load_npz(result.run_dir / "weights.npz")
    steps_per_epoch = 300 // cfg.training.batch_size
    assert sorted(acc.Tags()["histograms"]) == sorted(
        [f"weights/{name}" for name in weights] + [f"gradients/{name}" for name in weights]
    )
    for name, W in weights.items():
        hist = acc.Histograms(f"weights/{name}")
        assert [h.step for h in hist] == [0, steps_per_epoch, 2 * steps_per_epoch]
        last = hist[-1].histogram_value
        assert last.num == W.size
        assert (last.min, last.max) == pytest.approx((float(W.min()), float(W.max())), rel=1e-6)
        assert last.sum == pytest.approx(float(W.astype(np.float64).sum()), rel=1e-5, abs=1e-6)
        assert [h.step for h in acc.Histograms(f"gradients/{name}")] == [h.step for h in hist]


class StopAt(Hook):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, state) -> None:
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_resumed_run_tells_one_history_the_epochs_after_its_checkpoint_replaced(tmp_path):
    # checkpoints every 2 epochs, stopped after epoch 3: epoch 3 is in the first writer's file and is
    # trained again after the resume; TensorBoard must keep the second one only, as the CSVs do
    cfg = load_config(QUICK, [*SMALL, "training.epochs=5", "output.tensorboard=true", "output.checkpoint_every=2"])
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, runs_dir=tmp_path, display="quiet", hooks=[StopAt(3)])
    (run_dir,) = tmp_path.iterdir()
    first = {k: dict(v) for k, v in expected_scalars(run_dir).items()}
    assert max(first["metrics/validation_accuracy"]) == 3 * 30
    result = run_experiment(None, resume=run_dir, display="quiet")
    assert result.status == "completed"
    assert len(list((run_dir / "tensorboard").iterdir())) == 2
    assert_events_match_csvs(run_dir)
    assert max(expected_scalars(run_dir)["metrics/validation_accuracy"]) == 5 * 30


def test_cli_flag_switches_it_on_for_train_and_sweep(tmp_path):
    runner = CliRunner()
    small = [a for s in SMALL for a in ("--set", s)]
    r = runner.invoke(cli, ["train", QUICK, "--tensorboard", "-q", "--runs-dir", str(tmp_path / "t"), *small])
    assert r.exit_code == 0, r.output
    (run_dir,) = (tmp_path / "t").iterdir()
    assert_events_match_csvs(run_dir)
    r = runner.invoke(
        cli,
        ["sweep", "depth", "--tensorboard", "--seeds", "1", "--jobs", "1", "--runs-dir", str(tmp_path / "s")]
        + ["--set", "data.dataset=mnist-mini", "--set", "training.epochs=1", *small],
    )
    assert r.exit_code == 0, r.output
    members = sorted((tmp_path / "s").glob("sweeps/*/members/*"))
    assert members and all((m / "tensorboard").is_dir() for m in members)


def test_without_the_extra_it_is_one_line_and_no_run_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails as if not installed
    cfg = load_config(QUICK, [*SMALL, "output.tensorboard=true"])
    with pytest.raises(UserError) as err:
        run_experiment(cfg, runs_dir=tmp_path / "runs", display="quiet")
    assert str(err.value) == (
        'config: output.tensorboard: true needs the optional package tensorboardX; install it with: pip install "nnlab[tensorboard]"'
    )
    assert not (tmp_path / "runs").exists()
    r = CliRunner().invoke(cli, ["train", QUICK, "--tensorboard", "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2
    assert "pip install" in r.output and "Traceback" not in r.output
