"""weights-best.npz: the parameters of the best-validation epoch (summary.json's ``best.epoch``), written
as each new best appears, kept right across Ctrl-C and resume; early stopping says why it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.build import build_data, build_network
from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.experiment import eval_sets, run_experiment
from nnlab.io import load_npz
from nnlab.rundir import BEST_WEIGHTS, RunDir
from nnlab.training import Hook, evaluate

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "configs" / "quickstart.yaml")
SMALL = ["data.train_size=400", "data.validation_size=200", "data.test_size=200", "instruments.probe_size=100"]
# a learning rate this large makes validation accuracy wander: the best epoch is not the last
WANDER = ["optimizer.learning_rate=4.0"]


def cfg_of(*extra: str, epochs: int = 8):
    return load_config(QUICK, [*SMALL, f"training.epochs={epochs}", *extra])


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def accuracy_of(run_dir: Path, weights: str) -> float:
    """Validation accuracy of the run's network with ``weights`` loaded, measured as training measures it."""
    cfg = load_config(str(run_dir / "config.yaml"))
    data = build_data(cfg)
    net = build_network(cfg, np.random.default_rng(0), n_train=data.n_train)
    net.load(run_dir / weights)
    return evaluate(net, eval_sets(cfg, data))["validation_accuracy"]


def assert_best_file_matches_summary(run_dir: Path) -> None:
    best = summary(run_dir)["best"]
    assert best["epoch"] is not None
    assert accuracy_of(run_dir, BEST_WEIGHTS) == best["validation_accuracy"]


class StopAt(Hook):
    def __init__(self, epoch: int | None = None, at_start: bool = False) -> None:
        self.epoch, self.at_start = epoch, at_start

    def on_train_start(self, state) -> None:
        if self.at_start:
            raise KeyboardInterrupt

    def on_epoch_end(self, state) -> None:
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def interrupted(cfg, runs: Path, hook: Hook, resume: Path | None = None) -> Path:
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, runs_dir=runs, display="quiet", hooks=[hook], resume=resume)
    return resume or next(runs.iterdir())


def test_best_file_holds_the_best_epoch_and_differs_from_the_final_weights(tmp_path):
    result = run_experiment(cfg_of(*WANDER, epochs=12), runs_dir=tmp_path, display="quiet")
    s = result.summary
    assert result.status == "completed" and s == summary(result.run_dir)
    assert s["best"]["epoch"] < s["final"]["epoch"]  # the config does wander: best is not final
    assert s["best"]["validation_accuracy"] > s["final"]["validation_accuracy"]
    assert_best_file_matches_summary(result.run_dir)
    assert accuracy_of(result.run_dir, "weights.npz") == s["final"]["validation_accuracy"]
    best, final = load_npz(result.run_dir / BEST_WEIGHTS), load_npz(result.run_dir / "weights.npz")
    assert best.keys() == final.keys() and any(not np.array_equal(best[k], final[k]) for k in best)


def test_when_the_last_epoch_is_best_both_files_hold_the_same_parameters(tmp_path):
    result = run_experiment(cfg_of(epochs=2), runs_dir=tmp_path, display="quiet")
    assert result.summary["best"]["epoch"] == result.summary["final"]["epoch"] == 2  # a calm run still improving
    best, final = load_npz(result.run_dir / BEST_WEIGHTS), load_npz(result.run_dir / "weights.npz")
    assert all(best[k].tobytes() == final[k].tobytes() for k in final)


def test_an_interrupted_run_keeps_the_best_epoch_so_far(tmp_path):
    run_dir = interrupted(cfg_of(*WANDER), tmp_path, StopAt(epoch=3))
    s = summary(run_dir)
    assert s["status"] == "interrupted" and not (run_dir / "weights.npz").exists()
    assert s["best"]["epoch"] < s["epochs_completed"] == 3  # the best so far is an earlier epoch
    assert_best_file_matches_summary(run_dir)


def test_ctrl_c_while_a_new_best_is_written_leaves_the_file_matching_the_summary(tmp_path, monkeypatch):
    """The interrupt lands in the second write of weights-best.npz; the run's end writes it again."""
    real, calls = RunDir.save_arrays, []

    def save_arrays(self, name, arrays):
        if name == BEST_WEIGHTS:
            calls.append(name)
            if len(calls) == 2:
                raise KeyboardInterrupt
        real(self, name, arrays)

    monkeypatch.setattr(RunDir, "save_arrays", save_arrays)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg_of(epochs=4), runs_dir=tmp_path, display="quiet")
    monkeypatch.undo()
    (run_dir,) = tmp_path.iterdir()
    s = summary(run_dir)
    assert s["status"] == "interrupted" and s["best"]["epoch"] == s["epochs_completed"] == 2
    assert len(calls) == 3  # epoch 1, epoch 2 (interrupted), epoch 2 again at the end of the run
    assert_best_file_matches_summary(run_dir)


def test_resume_restores_the_best_of_the_checkpoint_not_a_later_one_it_will_recompute(tmp_path):
    """checkpoint_every=2, stopped after epoch 3 (a new best, written): the resume goes back to epoch 2's
    checkpoint, and weights-best.npz goes back with it to the best epoch of the history it keeps."""
    cfg = cfg_of("output.checkpoint_every=2", epochs=4)
    run_dir = interrupted(cfg, tmp_path, StopAt(epoch=3))
    assert summary(run_dir)["best"]["epoch"] == 3  # written before the stop
    interrupted(None, tmp_path, StopAt(at_start=True), resume=run_dir)  # resumed, stopped before a step
    s = summary(run_dir)
    assert s["epochs_completed"] == 2 and s["best"]["epoch"] == 2
    assert_best_file_matches_summary(run_dir)
    result = run_experiment(None, resume=run_dir, display="quiet")
    assert result.status == "completed" and result.summary["best"]["epoch"] == 4
    assert_best_file_matches_summary(run_dir)


def test_a_resume_with_no_checkpoint_starts_over_without_the_old_best_file(tmp_path):
    cfg = cfg_of("output.checkpoint_every=3", epochs=4)
    run_dir = interrupted(cfg, tmp_path, StopAt(epoch=2))
    assert (run_dir / BEST_WEIGHTS).exists() and not (run_dir / "checkpoint" / "checkpoint.npz").exists()
    interrupted(None, tmp_path, StopAt(at_start=True), resume=run_dir)
    assert summary(run_dir)["best"]["epoch"] is None and not (run_dir / BEST_WEIGHTS).exists()


def test_early_stopping_says_why_and_where_the_best_weights_are(tmp_path):
    out = CliRunner().invoke(
        cli,
        [
            "train",
            QUICK,
            "--runs-dir",
            str(tmp_path),
            "--set",
            "training.epochs=30",
            "--set",
            "training.early_stopping=2",
        ]
        + [a for kv in (*SMALL, *WANDER) for a in ("--set", kv)],
    )
    assert out.exit_code == 0, out.output
    (run_dir,) = tmp_path.iterdir()
    s = summary(run_dir)
    assert s["epochs_completed"] < 30 and s["epochs_completed"] - s["best"]["epoch"] == 2
    line = (
        "early stopping: no improvement in validation accuracy for 2 epochs;"
        f" stopped after epoch {s['epochs_completed']} (best epoch {s['best']['epoch']}, weights in weights-best.npz)"
    )
    assert line in out.output.splitlines()
    assert_best_file_matches_summary(run_dir)


def test_a_run_that_was_not_stopped_early_says_nothing_about_it(tmp_path):
    out = CliRunner().invoke(cli, ["train", QUICK, "--runs-dir", str(tmp_path), "--set", "training.epochs=2"])
    assert out.exit_code == 0, out.output
    assert "early stopping" not in out.output
