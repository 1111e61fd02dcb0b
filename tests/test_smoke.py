"""`nnlab train --smoke` trains on the embedded data whatever the config names: no download.

A config whose network does not take the embedded images (784 inputs, 10
classes) is refused in one line; the help says where a smoke run's data comes from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from nnlab.cli.main import cli
from nnlab.data.datasets import DATASETS, DatasetSpec

ROOT = Path(__file__).resolve().parents[1]
R1 = str(ROOT / "configs" / "nielsen" / "r1.yaml")
NOTE = (
    "smoke run: the embedded mnist-mini data instead of mnist (300 training, 100 validation, 100 test images;"
    " nothing downloaded), one epoch, every instrument"
)


def test_a_config_naming_full_mnist_smoke_runs_with_no_data_on_the_machine(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    env = {"NNLAB_DATA": str(empty), "PATH": "/usr/bin:/bin"}
    args = [sys.executable, "-m", "nnlab", "train", R1, "--runs-dir", str(tmp_path / "runs")]
    without = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert without.returncode == 2 and "MNIST not found" in without.stderr  # the config needs full MNIST
    out = subprocess.run([*args, "--smoke"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[0] == NOTE
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["data"]["dataset"] == "mnist-mini" and config["data"]["train_size"] == 300
    assert config["model"]["sizes"] == [784, 30, 10] and config["regularization"]["l2"] == 5.0  # the config's own
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert list(empty.iterdir()) == []  # nothing fetched


def test_the_help_says_smoke_runs_use_the_embedded_data():
    out = CliRunner().invoke(cli, ["train", "--help"], terminal_width=200, max_content_width=200)
    text = " ".join(out.output.split())
    assert (
        "--smoke Run end to end in seconds on the embedded data (mnist-mini, whatever data.dataset names;"
        " nothing to download)"
    ) in text


def test_quiet_and_dry_run_print_no_note(tmp_path):
    out = CliRunner().invoke(cli, ["train", R1, "--smoke", "--dry-run"])
    assert out.exit_code == 0 and "smoke run:" not in out.output
    assert yaml.safe_load(out.output)["data"]["dataset"] == "mnist-mini"


def test_a_network_the_embedded_data_does_not_fit_is_refused(tmp_path, monkeypatch):
    # a dataset of 32x32 colour images (3072 inputs), as a later dataset may be
    monkeypatch.setitem(DATASETS._items, "colour", DatasetSpec(3072, 10, 1000, 100, 100, ("nielsen",), load=None))
    cfg = tmp_path / "colour.yaml"
    cfg.write_text("model: {sizes: [3072, 50, 10]}\ndata: {dataset: colour}\n")
    out = CliRunner().invoke(cli, ["train", str(cfg), "--smoke", "--runs-dir", str(tmp_path / "runs")])
    assert out.exit_code == 2
    assert out.output == (
        f"error: {cfg}: model.sizes: got [3072, 50, 10] with --smoke; a smoke run trains on the embedded"
        " mnist-mini, whose network takes 784 inputs and gives 10 outputs\n"
    )
    assert not (tmp_path / "runs").exists()


def test_a_smoke_sweep_runs_every_member_on_the_embedded_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "no-data"))
    depth = str(ROOT / "configs" / "sweeps" / "depth.yaml")  # R1's depth sweep: full MNIST, 30 epochs
    out = CliRunner().invoke(
        cli, ["sweep", depth, "--smoke", "--seeds", "1", "-j", "1", "--no-plots", "--runs-dir", str(tmp_path / "runs")]
    )
    assert out.exit_code == 0, out.output
    assert NOTE in out.output.splitlines()
    (sweep_dir,) = (tmp_path / "runs" / "sweeps").iterdir()
    members = sorted((sweep_dir / "members").iterdir())
    assert len(members) == 4  # the four depths
    for m in members:
        config = yaml.safe_load((m / "config.yaml").read_text())
        assert config["data"]["dataset"] == "mnist-mini" and config["training"]["epochs"] == 1
        assert json.loads((m / "summary.json").read_text())["status"] == "completed"
