"""Files and folders nnlab writes follow the umask, like any other program's.

Atomic writes go through a ``mkstemp`` file (mode 0600); before the rename it
gets 0666 less the umask. Real commands run in a subprocess under a given umask:
a run (with its checkpoint folder), its plots and report, and a one-member
sweep; every file and folder they leave is checked.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nnlab.io import atomic_write_text, file_mode, umask

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")

ROOT = Path(__file__).resolve().parents[1]
NNLAB = str(Path(sys.executable).parent / "nnlab")
SMALL = [
    "--set=data.train_size=200",
    "--set=data.validation_size=100",
    "--set=data.test_size=100",
    "--set=instruments.probe_size=50",
    "--set=training.epochs=1",
]


def nnlab(mask: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``nnlab ARGS`` in a shell whose umask is ``mask``."""
    script = f'umask {mask:03o} && exec "$0" "$@"'
    out = subprocess.run(["sh", "-c", script, NNLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def modes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Permission bits of every file and every folder under ``root`` (``root`` included)."""
    files, dirs = {}, {str(root): stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        (dirs if p.is_dir() else files)[str(p.relative_to(root))] = stat.S_IMODE(p.stat().st_mode)
    return files, dirs


@pytest.mark.parametrize("mask, file, folder", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_run_plot_report_and_sweep_files_follow_the_umask(tmp_path, mask, file, folder):
    runs = tmp_path / "runs"
    nnlab(mask, "train", str(ROOT / "configs" / "quickstart.yaml"), *SMALL, "--runs-dir", str(runs), cwd=tmp_path)
    (run,) = runs.iterdir()
    nnlab(mask, "plot", str(run), cwd=tmp_path)
    nnlab(mask, "report", str(run), "-o", str(tmp_path / "reports" / "report.md"), cwd=tmp_path)
    sweep = tmp_path / "one.yaml"
    sweep.write_text(f"name: one\nbase: {ROOT / 'configs' / 'quickstart.yaml'}\nseeds: 1\n")
    nnlab(mask, "sweep", str(sweep), *SMALL, "--runs-dir", str(runs), "-j", "1", cwd=tmp_path)

    files, dirs = modes(runs)
    names = {Path(f).name for f in files}
    # what is checked: atomic writes (meta, summary, weights, checkpoint, sweep files), appended CSVs, plots
    assert {"meta.json", "summary.json", "weights.npz", "checkpoint.npz", "metrics.csv", "sweep.json"} <= names
    assert any(f.endswith(".png") for f in files) and any(d.endswith("checkpoint") for d in dirs)
    assert {f: m for f, m in files.items() if m != file} == {}
    assert {d: m for d, m in dirs.items() if m != folder} == {}
    report_files, report_dirs = modes(tmp_path / "reports")
    assert set(report_files.values()) == {file} and set(report_dirs.values()) == {folder}


def test_umask_is_read_without_changing_it(tmp_path):
    old = os.umask(0o027)
    try:
        assert umask() == 0o027 and file_mode() == 0o640
        assert os.umask(0o027) == 0o027  # still what it was set to
        atomic_write_text(tmp_path / "x.txt", "x\n")
        assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o640
        assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temporary file left
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask, file, folder", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_a_smoke_runs_temporary_folder_follows_the_umask_too(tmp_path, mask, file, folder):
    out = nnlab(mask, "train", str(ROOT / "configs" / "quickstart.yaml"), "--smoke", "-q", cwd=tmp_path)
    run = Path(out.stdout.strip())
    temp = run.parent  # made by nnlab in the system's temporary folder (mkdtemp makes 0700)
    try:
        assert temp.name.startswith("nnlab-smoke-")
        files, dirs = modes(temp)
        assert set(dirs.values()) == {folder} and set(files.values()) == {file}
    finally:
        shutil.rmtree(temp)
