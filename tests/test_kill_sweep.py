"""Kill tests for `nnlab sweep`: a real sweep (two worker processes) is stopped at seeded
random points, and `nnlab sweep --resume SWEEP_DIR` must then finish it with the same
results as a sweep that was never stopped.

- Ctrl-C: SIGINT goes to the whole process group, as a terminal sends it. Expected: exit
  code 130, sweep.json status ``interrupted``, and completed members kept.
- SIGKILL to the whole group (the OOM killer, a lost machine). Expected: sweep.json
  stays ``running``.

After each stop, every file in the sweep folder must parse: sweep.json, results.csv
with complete rows, and each member's run files. Every member already completed must
have exactly the reference's results. After the resume, every member and results.csv
(wall times aside) must equal the reference.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from same_results import assert_same_results, meta
from test_kill import check_files_parse

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[1]
SETS = [
    "data.train_size=500",
    "data.validation_size=100",
    "data.test_size=100",
    "instruments.probe_size=100",
    "training.epochs=6",
]
SWEEP = f"""name: tiny
base: {ROOT / "configs" / "quickstart.yaml"}
grid:
  model.sizes: [[784, 20, 10], [784, 20, 20, 10]]
seeds: 2
"""
CASES = [(seed, sig) for seed in range(3) for sig in ("SIGINT", "SIGKILL")]
FAULTS = {"SIGINT": 0, "SIGKILL": 0, "came too late (sweep already over)": 0}
LOST: list[str] = []


def sweep_file(folder: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(SWEEP)
    return path


def nnlab_sweep(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nnlab", "sweep", *args, "-j", "2", "--no-plots", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, ctrl_c: bool = False) -> tuple[int, str]:
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err  # neither the sweep nor its workers (Ctrl-C included)
    return proc.returncode, err


def group_gone(pgid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def results_rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in csv.DictReader(f)]


def check_sweep_parses(sweep_dir: Path) -> None:
    json.loads((sweep_dir / "sweep.json").read_text())
    text = (sweep_dir / "results.csv").read_text()
    assert text.endswith("\n")
    rows = list(csv.reader(text.splitlines()))
    assert all(len(r) == len(rows[0]) for r in rows)
    for member in (sweep_dir / "members").iterdir():
        check_files_parse(member)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep-ref")
    proc = nnlab_sweep(str(sweep_file(tmp)), *[f"--set={s}" for s in SETS], "--runs-dir", str(tmp / "runs"))
    code, err = finish(proc)
    assert code == 0, err
    (sweep_dir,) = (tmp / "runs" / "sweeps").iterdir()
    return sweep_dir


@pytest.mark.parametrize("seed, sig", CASES)
def test_a_stopped_sweep_keeps_its_finished_members_and_resumes_to_the_same_results(tmp_path, reference, seed, sig):
    delay = random.Random(f"{seed}-{sig}").uniform(0.0, 2.0)
    proc = nnlab_sweep(str(sweep_file(tmp_path)), *[f"--set={s}" for s in SETS], "--runs-dir", str(tmp_path / "runs"))
    try:
        end = time.monotonic() + 60
        while not list((tmp_path / "runs").glob("sweeps/*/sweep.json")):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.005)
        time.sleep(delay)
        sent = proc.poll() is None
        if sent:
            os.killpg(proc.pid, getattr(signal, sig))
        code, err = finish(proc, ctrl_c=sig == "SIGINT")
    finally:
        if not group_gone(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    (sweep_dir,) = (tmp_path / "runs" / "sweeps").iterdir()
    check_sweep_parses(sweep_dir)
    status = json.loads((sweep_dir / "sweep.json").read_text())["status"]
    if not sent or status == "completed":
        FAULTS["came too late (sweep already over)"] += 1
    else:
        FAULTS[sig] += 1
        if sig == "SIGINT":
            assert code == 130 and status == "interrupted", err
            assert err.strip().splitlines()[-1] == (
                f"interrupted: finished members kept; continue with nnlab sweep --resume {sweep_dir}"
            )
        else:
            assert code == -signal.SIGKILL and status == "running"
        for member in (sweep_dir / "members").iterdir():  # what was completed is kept, and right
            if (member / "meta.json").exists() and meta(member)["status"] == "completed":
                assert_same_results(member, reference / "members" / member.name)
        resumed = nnlab_sweep("--resume", str(sweep_dir))
        code, err = finish(resumed)
        assert code == 0, err
    check_sweep_parses(sweep_dir)
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "completed"
    try:
        assert sorted(p.name for p in (sweep_dir / "members").iterdir()) == sorted(
            p.name for p in (reference / "members").iterdir()
        )
        for member in (reference / "members").iterdir():
            assert_same_results(sweep_dir / "members" / member.name, member)
        assert results_rows(sweep_dir) == results_rows(reference)
    except AssertionError:
        LOST.append(str(sweep_dir))
        raise


def test_sweep_fault_count():
    """Runs after the sweep kill tests: faults injected (printed with -s), no result lost."""
    print(
        f"\nsweep kill tests: {FAULTS['SIGINT'] + FAULTS['SIGKILL']} faults injected {FAULTS};"
        f" results lost: {len(LOST)}"
    )
    if not any(FAULTS.values()):
        pytest.skip("run with the sweep kill tests")
    assert not LOST


def test_workers_do_not_outlive_a_sigkilled_sweep(tmp_path):
    proc = nnlab_sweep(str(sweep_file(tmp_path)), *[f"--set={s}" for s in SETS], "--runs-dir", str(tmp_path / "runs"))
    try:
        end = time.monotonic() + 60
        while not list((tmp_path / "runs").glob("sweeps/*/members/*/meta.json")):
            assert proc.poll() is None and time.monotonic() < end
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 PID` does
        proc.wait(timeout=60)
        assert group_gone(proc.pid, timeout=5.0), "worker processes still running after the sweep was killed"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # clean up whatever is left of the group
        except ProcessLookupError:
            pass
        proc.communicate(timeout=60)
