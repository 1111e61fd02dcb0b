"""Shipped configs and sweeps by name from any folder, `nnlab configs` (list, --copy), and `nnlab validate`
of sweep files as sweeps (issue 12, items 2 and 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nnlab import shipped
from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_CONFIGS = ROOT / "nnlab" / "configs"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="nnlab")


def sizes(dry_run_output: str) -> list[int]:
    return yaml.safe_load(dry_run_output)["model"]["sizes"]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty folder outside the checkout, as the current folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- names ---------------------------------------------------------------------------------------------


def test_the_shipped_names_are_the_files_of_nnlab_configs():
    files = sorted(p.relative_to(PACKAGE_CONFIGS).as_posix() for p in PACKAGE_CONFIGS.rglob("*.yaml"))
    names = sorted([f"{s.name}.yaml" for s in shipped.configs()] + [f"sweeps/{s.name}.yaml" for s in shipped.sweeps()])
    assert names == files
    assert {"quickstart", "nielsen/r1", "relu/r4", "examples/optimizer-adam"} <= {s.name for s in shipped.configs()}
    assert {"depth", "r2", "depth-relu"} <= {s.name for s in shipped.sweeps()}


@pytest.mark.parametrize("name", ["quickstart", "nielsen/r1", "relu/r4", "faults/exploding"])
def test_train_takes_a_shipped_name_from_any_folder(elsewhere, name):
    out = invoke("train", name, "--dry-run")
    assert out.exit_code == 0, out.output
    expected = load_config(PACKAGE_CONFIGS / f"{name}.yaml")
    assert yaml.safe_load(out.output) == yaml.safe_load(
        CliRunner().invoke(cli, ["train", str(PACKAGE_CONFIGS / f"{name}.yaml"), "--dry-run"]).output
    )
    assert sizes(out.output) == expected.model.sizes


def test_an_existing_file_path_wins_over_a_name(elsewhere):
    (elsewhere / "quickstart").write_text("model: {sizes: [784, 7, 10]}\n")
    (elsewhere / "nielsen").mkdir()
    (elsewhere / "nielsen" / "r1").write_text("model: {sizes: [784, 8, 10]}\n")
    assert sizes(invoke("train", "quickstart", "--dry-run").output) == [784, 7, 10]
    assert sizes(invoke("train", "nielsen/r1", "--dry-run").output) == [784, 8, 10]
    assert sizes(invoke("train", "relu/r4", "--dry-run").output) == [784, 100, 10]  # no such file here: the name


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "quickstrat"],
            "quickstrat: no such config file or shipped config; nnlab configs lists the shipped ones "
            "(did you mean 'quickstart'?)",
        ),
        (
            ["train", "nielsen/r9"],
            "nielsen/r9: no such config file or shipped config; nnlab configs lists the shipped ones (did you mean 'nielsen/r1'?)",
        ),
        # a checkout path typed outside the checkout: a path (.yaml), pointed at the name it holds
        (
            ["train", "configs/quickstart.yaml"],
            "configs/quickstart.yaml: no such config file (did you mean 'quickstart'?)",
        ),
        (["train", "depth"], "depth: is a shipped sweep, not a run config; run it with nnlab sweep depth"),
        (
            ["sweep", "nielsen/r1"],
            "nielsen/r1: is a shipped run config, not a sweep; train it with nnlab train nielsen/r1",
        ),
        (["sweep", "dpeth.yaml"], "dpeth.yaml: no such sweep file (did you mean 'depth'?)"),
        (
            ["validate", "nielsen/r11"],
            "nielsen/r11: no such config file or shipped config; nnlab configs lists the shipped ones "
            "(did you mean 'nielsen/r1'?)",
        ),
    ],
)
def test_an_unknown_name_is_one_line_with_the_nearest_name(elsewhere, args, message):
    out = invoke(*args)
    assert out.exit_code == 2
    assert out.output == f"error: {message}\n"


def test_a_sweep_file_given_to_train_and_a_run_config_given_to_sweep_are_told_the_right_command(elsewhere):
    (elsewhere / "sw.yaml").write_text("base: {}\ngrid: {training.epochs: [1, 2]}\n")
    (elsewhere / "run.yaml").write_text("model: {sizes: [784, 7, 10]}\n")
    out = invoke("train", "sw.yaml")
    assert (out.exit_code, out.output) == (
        2,
        "error: sw.yaml: is a sweep file, not a run config; run it with nnlab sweep sw.yaml\n",
    )
    out = invoke("sweep", "run.yaml")
    assert (out.exit_code, out.output) == (
        2,
        "error: run.yaml: is a run config, not a sweep file (no base, grid, overrides, seeds, set); "
        "train it with nnlab train run.yaml, or name it as a sweep's base:\n",
    )


def test_a_shipped_sweep_reads_its_base_inside_the_package(elsewhere):
    spec = load_spec("depth")
    assert (spec.label, spec.base_label) == ("nnlab/configs/sweeps/depth.yaml", "nnlab/configs/nielsen/r1.yaml")
    assert spec.base == yaml.safe_load((PACKAGE_CONFIGS / "nielsen" / "r1.yaml").read_text())


def test_a_sweeps_base_may_name_a_shipped_config(elsewhere):
    (elsewhere / "mine.yaml").write_text("base: relu/r4\nseeds: 1\n")
    spec = load_spec("mine.yaml")
    assert spec.base_label == "nnlab/configs/relu/r4.yaml"
    assert spec.base["model"]["sizes"] == [784, 100, 10]
    (elsewhere / "relu").mkdir()  # a file relative to the sweep wins over the name
    (elsewhere / "relu" / "r4").write_text("model: {sizes: [784, 5, 10]}\n")
    assert load_spec("mine.yaml").base["model"]["sizes"] == [784, 5, 10]


def test_a_run_by_name_records_the_shipped_file_and_the_command(elsewhere):
    out = invoke("train", "quickstart", "--smoke", "--runs-dir", "out", "-q")
    assert out.exit_code == 0, out.output
    (run_dir,) = (elsewhere / "out").iterdir()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["config_file"] == "nnlab/configs/quickstart.yaml"
    assert meta["name"] == "quickstart"


def test_a_run_by_path_records_the_path_as_given(elsewhere):
    (elsewhere / "mine.yaml").write_text((PACKAGE_CONFIGS / "quickstart.yaml").read_text())
    out = invoke("train", "mine.yaml", "--smoke", "--runs-dir", "out", "-q")
    assert out.exit_code == 0, out.output
    (run_dir,) = (elsewhere / "out").iterdir()
    assert json.loads((run_dir / "meta.json").read_text())["config_file"] == "mine.yaml"


# -- nnlab configs -------------------------------------------------------------------------------------


def first_comment(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def test_configs_lists_every_shipped_config_and_sweep_with_its_first_comment_line(elsewhere):
    out = invoke("configs")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == f"shipped with nnlab in {PACKAGE_CONFIGS}"
    configs_at, sweeps_at = lines.index("run configs: nnlab train NAME"), lines.index("sweeps: nnlab sweep NAME")
    listed_configs = [line.split()[0] for line in lines[configs_at + 1 : sweeps_at] if line]
    listed_sweeps = [line.split()[0] for line in lines[sweeps_at + 1 :] if line.startswith("  ")]
    files = sorted(PACKAGE_CONFIGS.rglob("*.yaml"))
    assert sorted(listed_configs) == sorted(
        p.relative_to(PACKAGE_CONFIGS).with_suffix("").as_posix() for p in files if "sweeps" not in p.parts
    )
    assert listed_sweeps == sorted(p.stem for p in files if "sweeps" in p.parts)
    assert listed_configs[0] == "quickstart"  # the top-level configs first
    width = max(map(len, listed_configs + listed_sweeps))
    assert f"  {'quickstart'.ljust(width)}  {first_comment(PACKAGE_CONFIGS / 'quickstart.yaml')}" in lines
    assert f"  {'depth'.ljust(width)}  {first_comment(PACKAGE_CONFIGS / 'sweeps' / 'depth.yaml')}" in lines


def test_a_sweeps_description_key_is_its_description(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("# a comment\ndescription: 'what it measures'\nbase: {}\n")
    assert shipped.Shipped("s", "sweep", f).description() == "what it measures"
    assert shipped.Shipped("s", "config", f).description() == "a comment"


def test_configs_copy_writes_the_tree_keeps_edits_and_force_overwrites(elsewhere):
    out = invoke("configs", "--copy", "mine")
    assert out.exit_code == 0, out.output
    files = sorted(p.relative_to(PACKAGE_CONFIGS) for p in PACKAGE_CONFIGS.rglob("*.yaml"))
    assert out.output.splitlines() == [f"wrote {Path('mine') / f}" for f in files] + [f"mine: {len(files)} wrote"]
    for f in files:
        assert (elsewhere / "mine" / f).read_bytes() == (PACKAGE_CONFIGS / f).read_bytes()
    # an edited copy is kept, a deleted one comes back
    (elsewhere / "mine" / "quickstart.yaml").write_text("model: {sizes: [784, 7, 10]}\n")
    (elsewhere / "mine" / "sweeps" / "depth.yaml").unlink()
    out = invoke("configs", "--copy", "mine")
    assert out.exit_code == 0
    assert out.output.splitlines() == [
        "kept mine/quickstart.yaml (differs from the shipped file; --force overwrites it)",
        "wrote mine/sweeps/depth.yaml",
        f"mine: 1 wrote, {len(files) - 2} unchanged, 1 kept",
    ]
    assert (elsewhere / "mine" / "quickstart.yaml").read_text() == "model: {sizes: [784, 7, 10]}\n"
    out = invoke("configs", "--copy", "mine", "--force")
    assert out.output.splitlines() == [
        "overwrote mine/quickstart.yaml",
        f"mine: 1 overwrote, {len(files) - 1} unchanged",
    ]
    assert (elsewhere / "mine" / "quickstart.yaml").read_bytes() == (PACKAGE_CONFIGS / "quickstart.yaml").read_bytes()


def test_a_copied_sweep_reads_the_copied_base(elsewhere):
    invoke("configs", "--copy", "mine")
    (elsewhere / "mine" / "nielsen" / "r1.yaml").write_text("model: {sizes: [784, 9, 10]}\n")
    spec = load_spec("mine/sweeps/depth.yaml")
    assert spec.base_label == "mine/nielsen/r1.yaml"
    assert spec.base == {"model": {"sizes": [784, 9, 10]}}


def test_configs_copy_refuses_a_file_as_the_folder_and_force_without_copy(elsewhere):
    (elsewhere / "afile").write_text("x")
    out = invoke("configs", "--copy", "afile")
    assert (out.exit_code, out.output) == (
        2,
        "error: afile: exists and is not a folder; give a folder to copy the configs into\n",
    )
    out = invoke("configs", "--force")
    assert (out.exit_code, out.output) == (2, "error: --force only goes with --copy DIR\n")


# -- nnlab validate: sweeps as sweeps -----------------------------------------------------------------


def test_the_readmes_validate_line_exits_0_with_sweeps_checked_as_sweeps(monkeypatch):
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "$ nnlab validate configs/*.yaml configs/*/*.yaml" in readme
    args = sorted(str(p) for p in Path().glob("configs/*.yaml")) + sorted(
        str(p) for p in Path().glob("configs/*/*.yaml")
    )
    out = invoke("validate", *args)
    assert out.exit_code == 0, out.output
    assert out.output.count("\n") == len(args) > 20  # one ok line per config or sweep file
    n_depth = len(load_spec("depth").seeds) * len(load_spec("depth").grid["model.sizes"])
    assert f"ok: configs/sweeps/depth.yaml (sweep of {n_depth} members)" in out.output.splitlines()
    assert "ok: configs/quickstart.yaml" in out.output.splitlines()


def test_validate_takes_names_of_configs_and_sweeps(elsewhere):
    out = invoke("validate", "quickstart", "depth", "sweeps/r2")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "ok: quickstart (nnlab/configs/quickstart.yaml)",
        "ok: depth (sweep of 20 members; nnlab/configs/sweeps/depth.yaml)",
        "ok: sweeps/r2 (sweep of 30 members; nnlab/configs/sweeps/r2.yaml)",
    ]


def test_validate_expands_a_sweep_and_reports_its_bad_members(elsewhere):
    (elsewhere / "sw.yaml").write_text(
        "base: {model: {sizes: [784, 30, 10]}}\ngrid: {model.activation: [relu, sigmoidd]}\n"
    )
    (elsewhere / "ok.yaml").write_text(
        "base: {model: {sizes: [784, 30, 10]}}\ngrid: {training.epochs: [1, 2]}\nseeds: 3\n"
    )
    out = invoke("validate", "sw.yaml", "ok.yaml")
    assert out.exit_code == 2
    assert out.output.splitlines() == [
        "error: sw.yaml: grid: model.activation: unknown activation 'sigmoidd'; valid: elu, gelu, gelu_tanh, "
        "identity, leaky_relu, prelu, relu, sigmoid, softplus, swish, tanh (did you mean 'sigmoid'?)",
        "ok: ok.yaml (sweep of 6 members)",
    ]


def test_validate_set_applies_to_every_sweep_member(elsewhere):
    out = invoke("validate", "depth", "--set", "training.batch_size=0")
    assert (out.exit_code, out.output) == (
        2,
        "error: --set training.batch_size=0: training.batch_size: got 0; must be an integer >= 1\n",
    )


def test_a_file_is_a_sweep_by_its_keys(elsewhere):
    # `seeds:` makes it a sweep (checked as one); `seed:` is a run config's unknown key
    (elsewhere / "a.yaml").write_text("seeds: 0\n")
    (elsewhere / "b.yaml").write_text("seed: 3\n")
    out = invoke("validate", "a.yaml", "b.yaml")
    assert out.exit_code == 2
    lines = out.output.splitlines()
    assert lines[0] == "error: a.yaml: seeds: got 0; must be a count >= 1 or a list of integers >= 0"
    assert lines[1].startswith("error: b.yaml: seed: unknown key")
