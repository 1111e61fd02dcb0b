"""Every shipped config validates, and a 1-epoch mnist-mini version of each runs, so none can rot unnoticed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnlab.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if "sweeps" not in p.parts)
IDS = [str(p.relative_to(ROOT / "configs")) for p in CONFIGS]


def test_the_reproduction_configs_are_all_here():
    assert {
        "nielsen/r1.yaml",
        "nielsen/r2.yaml",
        "nielsen/r3.yaml",
        "relu/r4.yaml",
        "relu/r5-chain.yaml",
        "quickstart.yaml",
    } <= set(IDS)


def test_every_shipped_config_validates():
    out = CliRunner().invoke(cli, ["validate", *map(str, CONFIGS)])
    assert out.exit_code == 0, out.output
    assert out.output.count("ok: ") == len(CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_every_shipped_config_runs_as_a_smoke_version_on_mnist_mini(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "no-data"))  # --smoke takes the embedded data
    out = CliRunner().invoke(cli, ["train", str(path), "--smoke", "--runs-dir", str(tmp_path / "runs"), "-q"])
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    if path.name == "exploding.yaml":  # made to diverge (configs/faults/)
        assert out.exit_code == 3 and summary["status"] == "diverged"
        return
    assert out.exit_code == 0, out.output
    assert summary["status"] == "completed"
