"""Ctrl-C stops a sweep promptly: no member starts after it, running members stop and are recorded.

A real `nnlab sweep` of six members (two at a time, or one in-process) gets the
signal once its first members have started: SIGINT to the whole process group as
a terminal sends it, SIGINT or SIGTERM to the sweep process alone. Expected: exit
code 130 within a few seconds of the signal (a bound on behaviour, far above the
~1 s it takes; before the fix, queued members started after Ctrl-C and ran to
the end); no member folder appears after the signal and no member's meta.json
was started after it; the members that were running are recorded
``interrupted`` (not ``failed``), the others ``pending`` (listed as not started);
then `nnlab sweep --resume` completes every member.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[1]
SETS = [
    "data.train_size=1000",
    "data.validation_size=200",
    "data.test_size=200",
    "instruments.probe_size=100",
    "training.epochs=40",  # about a second a member on a quiet machine: running when the signal comes
]
SWEEP = f"""name: stop
base: {ROOT / "configs" / "quickstart.yaml"}
grid:
  model.sizes: [[784, 20, 10], [784, 30, 10], [784, 20, 20, 10]]
seeds: 2
"""
EXIT_WITHIN = 5.0  # seconds from the signal to the sweep's exit


def nnlab_sweep(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", *args, "--no-plots", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def statuses(sweep_dir: Path) -> dict[str, str]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return {row["id"]: row["status"] for row in csv.DictReader(f)}


@pytest.mark.parametrize(
    "sig, to_group, jobs",
    [("SIGINT", True, "2"), ("SIGINT", False, "2"), ("SIGTERM", False, "2"), ("SIGINT", True, "1")],
    ids=["ctrl-c-group-j2", "sigint-sweep-only-j2", "sigterm-sweep-only-j2", "ctrl-c-group-in-process"],
)
def test_ctrl_c_starts_no_member_stops_the_running_ones_and_resume_finishes(tmp_path, sig, to_group, jobs):
    (tmp_path / "stop.yaml").write_text(SWEEP)
    runs = tmp_path / "runs"
    proc = nnlab_sweep(str(tmp_path / "stop.yaml"), *[f"--set={s}" for s in SETS], "--runs-dir", str(runs), "-j", jobs)
    try:
        end = time.monotonic() + 120
        while not list(runs.glob("sweeps/*/members/*/meta.json")):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.01)
        # every worker busy (the members running when the signal comes), one of them past its first epoch
        while len(list(runs.glob("sweeps/*/members/*/meta.json"))) < int(jobs) or not list(
            runs.glob("sweeps/*/members/*/checkpoint/checkpoint.npz")
        ):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.01)
        members = runs.glob("sweeps/*/members/*")
        before = {p.name for p in members}
        sent_at, t0 = dt.datetime.now(dt.timezone.utc), time.monotonic()
        if to_group:
            os.killpg(proc.pid, getattr(signal, sig))
        else:
            os.kill(proc.pid, getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert took < EXIT_WITHIN, f"exited {took:.1f} s after {sig}"
    assert "Traceback" not in err, err
    (sweep_dir,) = (runs / "sweeps").iterdir()

    # no member started after the signal: no new folder, no meta.json started later
    after = {p.name for p in (sweep_dir / "members").iterdir()}
    assert after <= before, f"started after {sig}: {sorted(after - before)}"
    for m in after:
        started = dt.datetime.fromisoformat(
            json.loads((sweep_dir / "members" / m / "meta.json").read_text())["started"]
        )
        assert started <= sent_at.replace(microsecond=0) + dt.timedelta(seconds=1)  # meta.json keeps whole seconds

    # the running members are interrupted (recorded in their own meta.json too), the rest not started
    status = statuses(sweep_dir)
    stopped = sorted(m for m, s in status.items() if s == "interrupted")
    waiting = sorted(m for m, s in status.items() if s == "pending")
    assert stopped and waiting and set(status.values()) <= {"interrupted", "pending", "completed"}, status
    assert set(stopped) <= after and not set(waiting) & after
    for m in stopped:
        meta = json.loads((sweep_dir / "members" / m / "meta.json").read_text())
        assert meta["status"] == "interrupted" and meta["error"] == "interrupted by the user (Ctrl-C)"
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "interrupted"
    lines = err.strip().splitlines()
    assert f"interrupted: {', '.join(stopped)} (stopped mid-run)" in lines
    assert f"not started: {', '.join(waiting)}" in lines
    assert lines[-1] == f"interrupted: finished members kept; continue with nnlab sweep --resume {sweep_dir}"
    assert not any(line.startswith("failed:") for line in lines), err

    # a member stopped after its first checkpoint goes on from it on --resume; one stopped before starts again
    checkpointed = {m for m in stopped if (sweep_dir / "members" / m / "checkpoint" / "checkpoint.npz").exists()}
    assert checkpointed, "no member had a checkpoint when stopped"
    epochs_before = {
        m: json.loads((sweep_dir / "members" / m / "meta.json").read_text())["epochs_completed"] for m in checkpointed
    }
    resumed = nnlab_sweep("--resume", str(sweep_dir), "-j", "2")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert set(statuses(sweep_dir).values()) == {"completed"}
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "completed"
    for m in stopped:
        meta = json.loads((sweep_dir / "members" / m / "meta.json").read_text())
        assert ("resumed" in meta) == (m in checkpointed), m
        if m in checkpointed:  # its history kept: the epochs before the stop are the same rows
            rows = (sweep_dir / "members" / m / "metrics.csv").read_text().splitlines()
            assert len(rows) == 1 + 1 + 40 and epochs_before[m] >= 1
