"""Runs started at the same time into one runs folder never share a directory."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from same_results import meta, metrics_without_seconds

from nnlab.errors import UserError
from nnlab.rundir import RunDir, create_run_dir

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "configs" / "quickstart.yaml")
SETS = [
    "data.train_size=200",
    "data.validation_size=100",
    "data.test_size=100",
    "instruments.probe_size=50",
    "training.epochs=2",
]


def test_threads_creating_the_same_name_and_stamp_get_distinct_folders(tmp_path):
    n = 16
    barrier = threading.Barrier(n)
    made: list[Path] = []
    lock = threading.Lock()

    def make():
        barrier.wait()
        path = create_run_dir(tmp_path / "runs", "same", stamp="20250101-000000")
        with lock:
            made.append(path)

    threads = [threading.Thread(target=make) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == n and len(set(made)) == n
    names = sorted(p.name for p in made)
    assert names[0] == "20250101-000000-same"
    assert set(names) == {"20250101-000000-same"} | {f"20250101-000000-same-{k}" for k in range(2, n + 1)}
    assert all(not any(p.iterdir()) for p in made)  # each one new and empty


def test_a_run_never_writes_into_an_existing_folder(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError) as err:
        RunDir.create(path=tmp_path / "taken")
    assert err.value.lines == [f"{tmp_path / 'taken'}: already exists; a run never writes into an existing folder"]


def test_two_trains_started_together_into_one_runs_folder_use_two_folders(tmp_path):
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "nnlab", "train", QUICK, *[f"--set={s}" for s in SETS], "--runs-dir", str(runs), "-q"]
    # same name, started together: the stamps match (same second) unless the clock ticks in between
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    printed = sorted(out.strip() for out, _ in outs)
    dirs = sorted(runs.iterdir())
    assert len(dirs) == 2 and printed == sorted(str(d) for d in dirs)
    for d in dirs:  # each folder holds one complete run, not two interleaved
        assert meta(d)["status"] == "completed"
        assert [r["epoch"] for r in metrics_without_seconds(d)] == ["0", "1", "2"]
    a, b = dirs
    assert metrics_without_seconds(a) == metrics_without_seconds(b)  # same config and seed, same numbers
    if a.name[:15] == b.name[:15]:  # same second: the second one got the suffix
        assert b.name == a.name + "-2"


def test_a_run_still_going_cannot_be_resumed_by_another_process(tmp_path):
    """The run folder is locked (flock) by the process writing it; the kernel drops the lock when
    that process dies, so a killed run is resumable at once and a live one never gets a second writer."""
    import os
    import signal
    import time

    from click.testing import CliRunner

    from nnlab.cli.main import cli

    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "nnlab",
        "train",
        QUICK,
        *[f"--set={s}" for s in SETS],
        "--set=training.epochs=1000",
        "--runs-dir",
        str(runs),
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(runs.glob("*/checkpoint/checkpoint.npz")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        (run_dir,) = runs.iterdir()
        expected = (
            f"error: {run_dir}: in use by another nnlab process (the run is still going);"
            " resume it once that process has ended\n"
        )
        out = subprocess.run(
            [sys.executable, "-m", "nnlab", "train", "--resume", str(run_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (out.returncode, out.stderr) == (2, expected)
        result = CliRunner().invoke(cli, ["train", "--resume", str(run_dir)])
        assert (result.exit_code, result.stderr) == (2, expected)
        assert proc.poll() is None and meta(run_dir)["status"] == "running"  # the live run went on untouched
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    rundir = RunDir(run_dir)
    rundir.lock()  # free again: the kernel released the dead process's lock
    rundir.unlock()


def test_two_sweeps_started_together_into_one_runs_folder_use_two_folders(tmp_path):
    from test_kill_sweep import SETS as SWEEP_SETS
    from test_kill_sweep import results_rows, sweep_file

    spec = sweep_file(tmp_path)
    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "nnlab",
        "sweep",
        str(spec),
        *[f"--set={s}" for s in SWEEP_SETS],
        "--set=training.epochs=2",
        "--runs-dir",
        str(runs),
        "-j",
        "1",
        "--no-plots",
        "-q",
    ]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    a, b = sorted((runs / "sweeps").iterdir())
    for d in (a, b):
        assert sorted(p.name for p in (d / "members").iterdir()) == ["m000", "m001", "m002", "m003"]
        for member in (d / "members").iterdir():
            assert meta(member)["status"] == "completed"
            assert [r["epoch"] for r in metrics_without_seconds(member)] == ["0", "1", "2"]
    assert results_rows(a) == results_rows(b)


def test_threads_creating_sweep_folders_with_one_name_get_distinct_folders(tmp_path):
    from nnlab.sweep.run import create_sweep_dir

    n = 8
    barrier = threading.Barrier(n)
    made: list[Path] = []
    lock = threading.Lock()

    def make():
        barrier.wait()
        path = create_sweep_dir(tmp_path / "runs", "same")
        with lock:
            made.append(path)

    threads = [threading.Thread(target=make) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == n
