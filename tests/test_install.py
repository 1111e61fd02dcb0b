"""nnlab installed as a wheel (not editable) runs, with its shipped configs, from an empty folder (issue 12).

.ci/run does the full install (a wheel and its dependencies into a fresh
virtual environment) and runs every command from an empty folder; these tests
catch the same breaks in seconds on a developer's machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE_PACKAGES = sysconfig.get_paths()["purelib"]  # this environment's: numpy, click, ... (and nnlab, editable)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["NNLAB_DATA"] = os.devnull  # nothing but the embedded data
    return env


def test_the_cli_starts_without_the_editable_installs_imports(tmp_path):
    """``python -S``: no .pth file runs, so nothing (such as setuptools' editable finder) imports
    importlib.util first; every command still loads and ``--help`` works."""
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {SITE_PACKAGES!r}]\n"
        "from nnlab.cli.main import COMMANDS, cli\n"
        "from click.testing import CliRunner\n"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output\n"
        "for name in COMMANDS:\n"
        "    assert f'  {name} ' in r.output, name\n"
        "    assert cli.get_command(None, name) is not None, name\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A wheel built from a copy of this source (no stale build/ folder), installed without -e into a fresh
    virtual environment that holds only nnlab. Its dependencies are read from this environment's
    site-packages through a .pth line: a plain path entry, whose own .pth files (the editable nnlab's among
    them) never run, so nnlab can only come from the wheel."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    shutil.copytree(ROOT / "nnlab", src / "nnlab", ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "-w", str(tmp / "wheel"), str(src)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "wheel").glob("nnlab-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    done = subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    Path(site, "dependencies.pth").write_text(SITE_PACKAGES + "\n")
    return venv


def nnlab(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "nnlab"), *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_wheel_holds_nnlab_and_its_configs(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import nnlab, nnlab.shipped as s; print(nnlab.__file__, s.ROOT)"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    package, configs = where.stdout.split()
    assert Path(package).is_relative_to(installed) and Path(configs).is_relative_to(installed)
    shipped = sorted(p.relative_to(ROOT / "nnlab" / "configs") for p in (ROOT / "nnlab" / "configs").rglob("*.yaml"))
    assert sorted(p.relative_to(configs) for p in Path(configs).rglob("*.yaml")) == shipped


@pytest.mark.slow
def test_the_installed_wheel_runs_from_an_empty_folder(installed, tmp_path):
    out = nnlab(installed, tmp_path, "--help")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "  configs " in out.stdout and "  train " in out.stdout
    out = nnlab(installed, tmp_path, "configs")
    assert out.returncode == 0, out.stderr
    assert "\n  quickstart " in out.stdout and "\n  depth " in out.stdout
    out = nnlab(installed, tmp_path, "train", "quickstart", "--smoke", "--runs-dir", "runs", "-q")
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert json.loads((run_dir / "meta.json").read_text())["config_file"] == "nnlab/configs/quickstart.yaml"
    out = nnlab(installed, tmp_path, "validate", "nielsen/r1", "depth")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "ok: nielsen/r1 (nnlab/configs/nielsen/r1.yaml)",
        "ok: depth (sweep of 20 members; nnlab/configs/sweeps/depth.yaml)",
    ]
