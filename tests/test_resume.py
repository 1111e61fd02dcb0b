"""Checkpoint and resume: a run stopped after epoch k and resumed ends bit-identical to one
that ran straight through (parameters, optimizer state, metrics rows but the wall-time
``seconds`` column, gradients.csv, activations.csv, the summary but its wall time).

Runs go through the Python API: a hook raises ``KeyboardInterrupt`` at a chosen point
(``run_experiment`` records ``interrupted`` and re-raises), then
``run_experiment(None, resume=run_dir)`` continues. Real processes killed with
SIGINT/SIGKILL are in test_kill.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from same_results import assert_same_results, meta, metrics_without_seconds

from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.errors import UserError
from nnlab.experiment import run_experiment
from nnlab.io import load_npz
from nnlab.training import Hook

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "configs" / "quickstart.yaml")
SMALL = ["data.train_size=300", "data.validation_size=100", "data.test_size=100", "instruments.probe_size=100"]


def cfg_of(*extra: str, epochs: int = 6):
    return load_config(QUICK, [*SMALL, f"training.epochs={epochs}", *extra])


class StopAt(Hook):
    """Raise KeyboardInterrupt at the end of epoch ``epoch`` (or after global step ``step``)."""

    def __init__(self, epoch: int | None = None, step: int | None = None) -> None:
        self.epoch, self.step = epoch, step

    def on_epoch_end(self, state) -> None:
        if self.epoch is not None and state.epoch == self.epoch:
            raise KeyboardInterrupt

    def on_step_end(self, state) -> None:
        if self.step is not None and state.step == self.step:
            raise KeyboardInterrupt


def interrupted(cfg, runs: Path, **at) -> Path:
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, runs_dir=runs, display="quiet", hooks=[StopAt(**at)])
    (run_dir,) = runs.iterdir()
    assert meta(run_dir)["status"] == "interrupted"
    return run_dir


_straight: dict[tuple, Path] = {}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted reference run of a config (cached per module)."""

    def get(*extra: str, epochs: int = 6) -> Path:
        key = (extra, epochs)
        if key not in _straight:
            runs = tmp_path_factory.mktemp("straight")
            result = run_experiment(cfg_of(*extra, epochs=epochs), runs_dir=runs, display="quiet")
            assert result.status == "completed"
            _straight[key] = result.run_dir
        return _straight[key]

    return get


def resume(run_dir: Path):
    result = run_experiment(None, resume=run_dir, display="quiet")
    assert result.status == "completed" and result.run_dir == run_dir
    return result


# -- bit-identical after a stop at epoch k ------------------------------------------------

CASES = {
    "sgd-dropout": ["regularization.dropout=0.2"],
    "momentum-dropout": ["optimizer.name=momentum", "optimizer.learning_rate=0.1", "regularization.dropout=0.3"],
    "adam": ["optimizer.name=adam", "optimizer.learning_rate=0.002", "regularization.dropout=0.1"],
    "adam-float64": ["optimizer.name=adam", "optimizer.learning_rate=0.002", "training.dtype=float64"],
}


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("case", list(CASES))
def test_stopped_after_epoch_k_and_resumed_equals_straight_through(tmp_path, straight, case, k):
    extra = CASES[case]
    run_dir = interrupted(cfg_of(*extra), tmp_path, epoch=k)
    assert meta(run_dir)["epochs_completed"] == k
    resume(run_dir)
    assert meta(run_dir)["resumed"]  # the resume is noted
    assert_same_results(run_dir, straight(*extra))


def test_resumed_summary_takes_the_delta_norms_before_the_stop_from_gradients_csv(tmp_path, straight):
    """‖δ^l‖ at initialization (step 0) was measured before the stop: only gradients.csv still has it."""
    extra = CASES["adam"]
    run_dir = interrupted(cfg_of(*extra), tmp_path, epoch=3)
    resume(run_dir)
    got = json.loads((run_dir / "summary.json").read_text())["delta_norms"]
    want = json.loads((straight(*extra) / "summary.json").read_text())["delta_norms"]
    assert len(got["initial"]) == len(got["final"]) == 3  # 784-30-30-10: layers 1..3
    assert got == want


@pytest.mark.parametrize("step", [1, 47, 89])
def test_stopped_in_the_middle_of_an_epoch_and_resumed_equals_straight_through(tmp_path, straight, step):
    """30 steps per epoch: the unfinished epoch's rows are dropped and the epoch run again."""
    extra = CASES["momentum-dropout"]
    run_dir = interrupted(cfg_of(*extra), tmp_path, step=step)
    assert meta(run_dir)["epochs_completed"] == step // 30
    resume(run_dir)
    assert_same_results(run_dir, straight(*extra))


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_rows_after_the_last_checkpoint_are_truncated_and_recomputed(tmp_path, straight, k):
    """checkpoint_every=2: stopped after epoch 3, the run resumes from epoch 2's checkpoint."""
    extra = [
        "output.checkpoint_every=2",
        "regularization.dropout=0.2",
        "optimizer.name=momentum",
        "optimizer.learning_rate=0.1",
    ]
    run_dir = interrupted(cfg_of(*extra), tmp_path, epoch=k)
    rows_before = len(metrics_without_seconds(run_dir))
    assert rows_before == k + 1  # every finished epoch is in the history, checkpoint or not
    ck_path = run_dir / "checkpoint" / "checkpoint.npz"
    if k < 2:
        assert not ck_path.exists()  # resume starts over
    else:
        assert json.loads(load_npz(ck_path)["__info__"].tobytes())["epoch"] == k - k % 2
    resume(run_dir)
    assert_same_results(run_dir, straight(*extra))


def test_stopped_before_the_first_checkpoint_starts_over_in_the_same_folder(tmp_path, straight):
    extra = ["output.checkpoint_every=3", "regularization.dropout=0.2"]
    run_dir = interrupted(cfg_of(*extra), tmp_path, epoch=2)
    assert not (run_dir / "checkpoint" / "checkpoint.npz").exists()
    resume(run_dir)
    assert_same_results(run_dir, straight(*extra))


def test_stopped_and_resumed_twice_equals_straight_through(tmp_path, straight):
    extra = CASES["adam"]
    run_dir = interrupted(cfg_of(*extra), tmp_path, epoch=2)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(None, resume=run_dir, display="quiet", hooks=[StopAt(epoch=4)])
    assert meta(run_dir)["status"] == "interrupted" and meta(run_dir)["epochs_completed"] == 4
    resume(run_dir)
    assert len(meta(run_dir)["resumed"]) == 2
    assert_same_results(run_dir, straight(*extra))


def test_early_stopping_state_survives_a_resume(tmp_path, straight):
    """The best-so-far and its epoch are in the checkpoint: the resumed run stops at the same epoch."""
    extra = ["training.early_stopping=1", "optimizer.learning_rate=4.0"]
    ref = straight(*extra, epochs=12)
    stopped = json.loads((ref / "summary.json").read_text())
    assert "stopped_early" in stopped and stopped["epochs_completed"] < 12  # the config does stop early
    stop_epoch = stopped["epochs_completed"]
    run_dir = interrupted(cfg_of(*extra, epochs=12), tmp_path, epoch=stop_epoch - 1)
    ck = load_npz(run_dir / "checkpoint" / "checkpoint.npz")
    es = json.loads(ck["__info__"].tobytes())["extra"]["early_stopping"]
    assert es["best_epoch"] >= 1 and es["best"] > 0
    resume(run_dir)
    assert_same_results(run_dir, ref)
    assert json.loads((run_dir / "summary.json").read_text())["stopped_early"] == stopped["stopped_early"]


def test_a_failed_or_diverged_run_can_be_resumed_from_its_checkpoint(tmp_path, straight):
    """Any unfinished status resumes (only ``completed`` is refused)."""

    class Boom(Hook):
        def on_epoch_end(self, state):
            if state.epoch == 2:
                raise RuntimeError("disk full")

    result = run_experiment(cfg_of(), runs_dir=tmp_path, display="quiet", hooks=[Boom()])
    assert result.status == "failed"
    resume(result.run_dir)
    assert_same_results(result.run_dir, straight())


# -- what resume refuses -----------------------------------------------------------------


def test_resume_refuses_a_completed_run(straight):
    run_dir = straight()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    with pytest.raises(UserError) as err:
        run_experiment(None, resume=run_dir, display="quiet")
    assert err.value.lines == [f"{run_dir}: run already completed; nothing to resume"]
    out = CliRunner().invoke(cli, ["train", "--resume", str(run_dir)])
    assert out.exit_code == 2
    assert out.output == f"error: {run_dir}: run already completed; nothing to resume\n"
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before  # untouched


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    out = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path)])
    assert out.exit_code == 2
    assert out.output == f"error: {tmp_path}: not a run directory (no meta.json)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_takes_no_config_or_overrides(tmp_path):
    out = CliRunner().invoke(cli, ["train", QUICK, "--resume", str(tmp_path)])
    assert out.exit_code == 2
    assert out.output == (
        "error: --resume RUN_DIR takes no CONFIG, --set, --name, --tensorboard or --smoke: the run keeps its own config\n"
    )


def test_cli_resume_of_an_interrupted_run_completes_with_exit_0(tmp_path, straight):
    run_dir = interrupted(cfg_of(), tmp_path, epoch=3)
    out = CliRunner().invoke(cli, ["train", "--resume", str(run_dir), "-q"])
    assert out.exit_code == 0, out.output
    assert_same_results(run_dir, straight())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name the file being fsynced")
def test_a_checkpoint_write_cut_short_keeps_the_previous_checkpoint(tmp_path, monkeypatch, straight):
    """Checkpoints are written to a temporary file, fsynced, then renamed over the old one."""
    import os

    run_dir = interrupted(cfg_of(), tmp_path, epoch=2)
    ck = run_dir / "checkpoint" / "checkpoint.npz"
    before = ck.read_bytes()

    real_fsync, cut = os.fsync, []

    def fsync(fd):
        if ".checkpoint.npz." in os.readlink(f"/proc/self/fd/{fd}"):
            cut.append(fd)
            raise KeyboardInterrupt  # Ctrl-C with the new checkpoint written but not yet in place
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(None, resume=run_dir, display="quiet")
    monkeypatch.undo()
    assert len(cut) == 1
    assert ck.read_bytes() == before  # the previous checkpoint, whole
    assert not list(run_dir.rglob(".*.tmp"))  # and no half-written file left
    assert meta(run_dir)["status"] == "interrupted" and meta(run_dir)["epochs_completed"] == 3
    resume(run_dir)
    assert_same_results(run_dir, straight())


def test_resume_removes_temporary_files_a_kill_left(tmp_path, straight):
    run_dir = interrupted(cfg_of(), tmp_path, epoch=2)
    (run_dir / ".meta.json.abc123.tmp").write_text('{"half')
    (run_dir / "checkpoint" / ".checkpoint.npz.xyz.tmp").write_bytes(b"PK\x03\x04 half")
    resume(run_dir)
    assert not list(run_dir.rglob(".*.tmp"))
    assert_same_results(run_dir, straight())


@pytest.mark.parametrize("during", ["write_summary", "write_meta"])
def test_a_stop_while_the_last_files_are_written_waits_for_them(tmp_path, monkeypatch, during):
    """Ctrl-C as the run writes summary.json or meta.json's final status: the run ends completed and
    whole, then the stop takes effect (without the hold, meta.json said "running" or "interrupted")."""
    import os
    import signal

    from nnlab.rundir import RunDir

    original = getattr(RunDir, during)
    sent = []

    def stop_then_write(self, *args, **kwargs):
        if not sent and (during == "write_summary" or self.meta.get("status") == "completed"):
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # delivered at once: the handler runs before the next line
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RunDir, during, stop_then_write)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg_of(epochs=2), runs_dir=tmp_path, display="quiet")
    assert sent
    (run_dir,) = tmp_path.iterdir()
    assert meta(run_dir)["status"] == "completed" and meta(run_dir)["epochs_completed"] == 2
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert (run_dir / "weights.npz").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
