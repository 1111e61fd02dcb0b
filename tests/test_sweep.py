"""`nnlab sweep`: expansion, validation, execution (in-process, processes, Dask), resume, failures, aggregates."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import nnlab
from nnlab.cli.main import cli
from nnlab.results import mean_std
from nnlab.sweep.expand import expand
from nnlab.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "data.dataset=mnist-mini",
    "data.split=nielsen",
    "data.train_size=200",
    "data.validation_size=100",
    "data.test_size=100",
    "instruments.probe_size=50",
    "training.epochs=1",
]


def sets(*extra: str) -> list[str]:
    out = []
    for s in [*TINY, *extra]:
        out += ["--set", s]
    return out


def write(tmp_path: Path, text: str, name: str = "sw.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def sweep_dir_of(runs: Path) -> Path:
    (d,) = (runs / "sweeps").iterdir()
    return d


def results(d: Path) -> list[dict[str, str]]:
    with open(d / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- the sweep file -----------------------------------------------------------------
def test_grid_times_override_sets_times_seeds_in_order(tmp_path):
    f = write(
        tmp_path,
        "base: {model: {sizes: [784, 10, 10]}}\n"
        "grid: {optimizer.learning_rate: [0.1, 0.5], training.batch_size: [10, 20, 50]}\n"
        "overrides: [{model.activation: relu}, {model.activation: tanh}]\nseeds: [3, 7]\n",
    )
    members = expand(load_spec(str(f), sets=["data.dataset=mnist-mini"]))
    assert len(members) == 2 * 3 * 2 * 2
    assert [m.id for m in members[:3]] == ["m000", "m001", "m002"]
    first, last = members[0], members[-1]
    assert first.point == {"optimizer.learning_rate": 0.1, "training.batch_size": 10, "model.activation": "relu"}
    assert first.seed == 3 and members[1].seed == 7 and members[1].point == first.point
    assert last.point == {"optimizer.learning_rate": 0.5, "training.batch_size": 50, "model.activation": "tanh"}
    assert first.overrides == [
        "optimizer.learning_rate=0.1",
        "training.batch_size=10",
        'model.activation="relu"',
        "data.dataset=mnist-mini",
        "training.seed=3",
    ]


def test_seed_count_means_zero_to_n_minus_one_and_cli_seeds_replace_it(tmp_path):
    f = write(tmp_path, "base: {data: {dataset: mnist-mini}}\nseeds: 3\n")
    assert [m.seed for m in expand(load_spec(str(f)))] == [0, 1, 2]
    assert [m.seed for m in expand(load_spec(str(f), seeds=2))] == [0, 1]


@pytest.mark.parametrize("arg, seeds", [("2", [0, 1]), ("3,4", [3, 4]), ("[7, 2]", [7, 2]), ("5,", [5])])
def test_cli_seeds_is_a_count_or_a_list_of_seeds(tmp_path, arg, seeds):
    f = write(tmp_path, "base: {data: {dataset: mnist-mini}}\nseeds: 3\n")
    out = invoke("sweep", str(f), "--seeds", arg, "--dry-run")
    assert out.exit_code == 0, out.output
    assert [line.split()[2] for line in out.output.splitlines()[:-1]] == [str(s) for s in seeds]
    assert [m.seed for m in expand(load_spec(str(f), seeds=arg))] == seeds


@pytest.mark.parametrize(
    "arg, message",
    [
        ("0", "--seeds 0: must be >= 1 (a list of one seed: --seeds 0,)"),
        ("x", "--seeds x: must be a count N >= 1 (seeds 0..N-1) or a list of seeds >= 0 like 3,4"),
        ("1,-2", "--seeds 1,-2: must be a count N >= 1 (seeds 0..N-1) or a list of seeds >= 0 like 3,4"),
        ("3,3", "--seeds 3,3: repeats a seed; each seed once"),
    ],
)
def test_bad_cli_seeds_get_one_line(tmp_path, arg, message):
    f = write(tmp_path, "base: {data: {dataset: mnist-mini}}\n")
    out = invoke("sweep", str(f), "--seeds", arg, "--dry-run")
    assert out.exit_code == 2
    assert out.output.strip() == "error: " + message


def test_training_seed_as_a_sweep_key_is_refused_where_it_was_written(tmp_path):
    # the seeds set training.seed last in every member: a grid or --set value would be silently replaced
    f = write(
        tmp_path,
        "base: {data: {dataset: mnist-mini}}\ngrid: {training.seed: [3, 4]}\noverrides: [{training: {seed: 5}}]\n",
    )
    out = invoke("sweep", str(f), "--set", "training.seed=9", "--dry-run")
    assert out.exit_code == 2
    hint = "not a sweep key; the sweep's seeds set it (seeds: N or [3, 4] in the file, --seeds N or --seeds 3,4)"
    assert out.output.strip().splitlines() == [
        f"error: {f}: grid: training.seed: {hint}",
        f"error: {f}: overrides[0]: training.seed: {hint}",
        f"error: --set training.seed=9: training.seed: {hint}",
    ]
    out = invoke("sweep", "--grid", "training.seed=1,2", "--set", "data.dataset=mnist-mini", "--dry-run")
    assert out.exit_code == 2
    assert out.output.strip() == f"error: --grid training.seed=1,2: training.seed: {hint}"


def test_a_sweep_name_is_found_in_configs_sweeps(monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = load_spec("depth")
    assert spec.grid["model.sizes"][0] == [784, 30, 10] and spec.seeds == [0, 1, 2, 3, 4]


def test_a_sweep_name_is_the_shipped_sweep_from_any_folder_and_an_existing_path_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec("depth")
    assert spec.label == "nnlab/configs/sweeps/depth.yaml"
    assert spec.base_label == "nnlab/configs/nielsen/r1.yaml"  # base: ../nielsen/r1.yaml, inside the package
    assert spec.base["model"]["sizes"] == [784, 30, 10]
    # a folder that happens to hold configs/sweeps/depth.yaml does not change what the name means
    (tmp_path / "configs" / "sweeps").mkdir(parents=True)
    write(tmp_path / "configs" / "sweeps", "name: local\nbase: {}\nseeds: 1\n", "depth.yaml")
    assert load_spec("depth").name == "depth"
    assert load_spec("configs/sweeps/depth.yaml").name == "local"
    # a file called depth (no extension) is a path, and a path to an existing file wins over the name
    (tmp_path / "depth").write_text("name: mine\nbase: {}\nseeds: 1\n")
    assert load_spec("depth").name == "mine"


def test_a_set_of_a_varied_key_wins_and_the_points_say_so(tmp_path):
    f = write(
        tmp_path,
        "base: {data: {dataset: mnist-mini}}\ngrid: {training.epochs: [10, 20], training.batch_size: [10, 20]}\n",
    )
    members = expand(load_spec(str(f), sets=["training.epochs=1"]))
    # training.epochs is no longer a dimension of the sweep: every member ran 1 epoch
    assert [m.point for m in members] == [{"training.batch_size": b} for b in (10, 20, 10, 20)]
    assert members[1].overrides == [
        "training.epochs=10",
        "training.batch_size=20",
        "training.epochs=1",
        "training.seed=0",
    ]
    out = CliRunner().invoke(cli, ["sweep", str(f), "--set", "training.epochs=1", "--dry-run"])
    assert out.exit_code == 0
    assert (
        "note: training.epochs is set to 1 in every member (--set and the file's set: list have the last word "
        "over its grid and override values)"
    ) in out.output


def test_points_hold_the_varied_keys_only_with_override_mappings_flattened(monkeypatch):
    monkeypatch.chdir(ROOT)
    members = expand(load_spec("optimizers", seeds=1))
    # model.sizes: [[...]] and training.epochs: [10] are one-value axes: base settings, not dimensions
    assert members[0].point == {"optimizer.name": "sgd", "optimizer.learning_rate": 0.1}
    assert members[2].point == {
        "optimizer.name": "momentum",
        "optimizer.learning_rate": 0.01,
        "optimizer.momentum": 0.9,
        "optimizer.nesterov": True,
    }
    from nnlab.sweep.expand import point_keys

    assert point_keys(members) == [
        "optimizer.name",
        "optimizer.learning_rate",
        "optimizer.momentum",
        "optimizer.nesterov",
    ]
    assert members[0].overrides[:3] == [
        "model.sizes=[784, 30, 30, 30, 30, 10]",
        "training.epochs=10",
        'optimizer={"name": "sgd", "learning_rate": 0.1}',
    ]


def test_ad_hoc_grid_from_the_command_line_with_list_values():
    spec = load_spec(
        None,
        sets=["data.dataset=mnist-mini"],
        grid_args=["model.sizes=[784,30,10];[784,30,30,10]", "optimizer.name=sgd,adam"],
    )
    members = expand(spec)
    assert [m.point["model.sizes"] for m in members] == [[784, 30, 10]] * 2 + [[784, 30, 30, 10]] * 2
    assert [m.point["optimizer.name"] for m in members] == ["sgd", "adam"] * 2


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "base: {}\ngird: {a: [1]}\n",
            "{f}: gird: unknown key; valid: name, base, grid, overrides, seeds, set, description (did you mean 'grid'?)",
        ),
        ("base: {}\nseeds: 0\n", "{f}: seeds: got 0; must be a count >= 1 or a list of integers >= 0"),
        ("base: {}\nseeds: [1, 1]\n", "{f}: seeds: [1, 1] repeats a seed; each seed once"),
        (
            "base: nothere.yaml\n",
            "{f}: base: config file 'nothere.yaml' not found "
            "(a path relative to the sweep file, or a shipped config's name such as nielsen/r1)",
        ),
        ("base: {}\ngrid: {model.sizes: []}\n", "{f}: grid.model.sizes: got []; must be a non-empty list of values"),
        (
            "- 1\n",
            "{f}: a sweep file must be a mapping with keys: name, base, grid, overrides, seeds, set, description",
        ),
    ],
)
def test_bad_sweep_files_get_one_line(tmp_path, text, message):
    f = write(tmp_path, text)
    out = invoke("sweep", str(f), "--dry-run")
    assert out.exit_code == 2
    assert out.output.strip() == "error: " + message.format(f=f)


def test_every_member_is_validated_before_anything_runs(tmp_path):
    f = write(tmp_path, "base: {data: {dataset: mnist-mini}}\ngrid: {model.activation: [relu, sigmoidd, tanhh]}\n")
    out = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"))
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 2 and all("unknown activation" in l for l in lines)
    assert lines[0].startswith(f"error: {f}: grid: model.activation: unknown activation 'sigmoidd'; valid: ")
    assert not (tmp_path / "runs").exists()


def test_each_problem_names_where_its_value_was_written(tmp_path):
    f = write(
        tmp_path,
        "base: {data: {dataset: mnist-mini}}\n"
        "grid: {optimizer.learning_rate: [0.1, -1]}\n"
        "overrides: [{model.sizes: [784, 0, 10]}, {model.activation: relu}]\n"
        "set: [training.epochs=-1]\nseeds: 2\n",
    )
    out = invoke("sweep", str(f), "--grid", "optimizer.name=sgd,adamm", "--set", "training.batch_size=0", "--dry-run")
    assert out.exit_code == 2
    assert sorted(out.output.strip().splitlines()) == sorted(
        [
            f"error: {f}: overrides[0]: model.sizes[1]: got 0; must be an integer >= 1",
            f"error: {f}: set: training.epochs: got -1; must be an integer >= 0",
            "error: --set training.batch_size=0: training.batch_size: got 0; must be an integer >= 1",
            f"error: {f}: grid: optimizer.learning_rate: got -1; must be a finite number > 0",
            "error: --grid optimizer.name=sgd,adamm: optimizer.name: unknown optimizer 'adamm'; "
            "valid: adagrad, adam, momentum, rmsprop, sgd (did you mean 'adam'?)",
        ]
    )


def test_a_missing_dataset_is_refused_once_before_the_sweep_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "nodata"))
    f = write(
        tmp_path,
        "name: nodata\nbase: {data: {dataset: mnist}}\ngrid: {model.sizes: [[784, 10, 10], [784, 20, 10]]}\nseeds: 3\n",
    )
    line = (
        f"MNIST not found: {tmp_path / 'nodata'} is not a folder; run `nnlab data fetch mnist`, or set NNLAB_DATA "
        "(or data.path) to a folder holding the four IDX files or mnist.pkl.gz"
    )
    out = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"))
    assert out.exit_code == 2 and out.output.strip() == f"error: {line}"
    assert not (tmp_path / "runs").exists()
    dry = CliRunner().invoke(cli, ["sweep", str(f), "--dry-run"])  # lists the members, and says it
    assert dry.exit_code == 0 and f"6 members, all valid\nnote: a local run would stop here: {line}" in dry.output


def test_unknown_sweep_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = invoke("sweep", "depht", "--dry-run")
    assert out.exit_code == 2
    shipped = sorted(p.stem for p in (Path(nnlab.__file__).parent / "configs" / "sweeps").glob("*.yaml"))
    assert {"depth", "depth-relu", "r2", "regularization"} <= set(shipped)
    assert out.output == (
        f"error: depht: no such sweep file or sweep name; shipped sweeps: {', '.join(shipped)} (did you mean 'depth'?)\n"
    )


# -- running -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sw")
    f = write(
        tmp, "name: tiny\nbase: {model: {sizes: [784, 20, 10]}}\ngrid: {model.activation: [sigmoid, relu]}\nseeds: 2\n"
    )
    out = invoke("sweep", str(f), "--runs-dir", str(tmp / "runs"), "--jobs", "1", *sets())
    assert out.exit_code == 0, out.output
    return sweep_dir_of(tmp / "runs"), out.output


def test_sweep_directory_layout(small_sweep):
    d, _ = small_sweep
    assert d.name.endswith("-tiny")
    assert {p.name for p in d.iterdir()} >= {
        "sweep.yaml",
        "sweep.json",
        "members",
        "results.csv",
        "summary.md",
        "plots",
    }
    doc = json.loads((d / "sweep.json").read_text())
    assert doc["format"] == 1 and doc["keys"] == ["model.activation"] and doc["status"] == "completed"
    assert [m["dir"] for m in doc["members"]] == [f"members/m00{i}" for i in range(4)]
    for m in doc["members"]:
        assert json.loads((d / m["dir"] / "meta.json").read_text())["status"] == "completed"


def test_results_csv_rows_equal_the_members_summaries(small_sweep):
    d, _ = small_sweep
    rows = results(d)
    assert [r["model.activation"] for r in rows] == ["sigmoid", "sigmoid", "relu", "relu"]
    for r in rows:
        s = json.loads((d / "members" / r["id"] / "summary.json").read_text())
        assert float(r["best_validation_accuracy"]) == s["best"]["validation_accuracy"]
        assert float(r["final_validation_accuracy"]) == s["final"]["validation_accuracy"]
        assert [float(r[f"delta_initial_{l}"]) for l in (1, 2)] == s["delta_norms"]["initial"]
        assert r["status"] == "completed" and r["error"] == ""


def test_summary_gives_mean_and_std_over_seeds(small_sweep):
    d, output = small_sweep
    rows = [r for r in results(d) if r["model.activation"] == "relu"]
    m, sd, n = mean_std(float(r["final_validation_accuracy"]) for r in rows)
    cell = f"{100 * m:.2f} ± {100 * sd:.2f}"
    md = (d / "summary.md").read_text()
    relu_line = next(l for l in md.splitlines() if l.startswith("| relu"))
    assert f"| {cell} |" in relu_line and "| 2 |" in relu_line
    assert cell in output and "4 of 4 members completed" in md


def test_summary_delta_norms_are_mean_and_std_of_the_members_initial_norms(small_sweep):
    d, _ = small_sweep
    md = (d / "summary.md").read_text().splitlines()
    head = [c.strip() for c in next(l for l in md if l.startswith("| configuration")).strip("|").split("|")]
    for act in ("sigmoid", "relu"):
        row = [c.strip() for c in next(l for l in md if l.startswith(f"| {act}")).strip("|").split("|")]
        members = [
            json.loads((d / "members" / r["id"] / "summary.json").read_text())
            for r in results(d)
            if r["model.activation"] == act
        ]
        for layer, column in ((1, "‖δ‖ h1"), (2, "‖δ‖ out")):
            m, sd, n = mean_std(s["delta_norms"]["initial"][layer - 1] for s in members)
            assert n == 2 and sd > 0
            assert row[head.index(column)] == f"{m:.3g} ± {sd:.2g}"
        m, sd, _ = mean_std(s["best"]["validation_accuracy"] for s in members)
        assert row[head.index("best valid %")] == f"{100 * m:.2f} ± {100 * sd:.2f}"


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_on_screen_table_fits_the_terminal_and_cuts_no_number(small_sweep, width):
    import io

    from rich.console import Console

    from nnlab.sweep.aggregate import configuration_table, rich_tables

    d, _ = small_sweep
    console = Console(width=width, file=io.StringIO(), record=True)
    for t in rich_tables(d, "sweep tiny", width):
        console.print(t)
    text = console.export_text()
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width
    words = text.split()
    for row in configuration_table(d).rows:
        for cell in row:
            assert all(part in words for part in cell.replace("±", " ").split())


def test_jobs_2_gives_the_same_results_as_in_process(tmp_path, small_sweep):
    d1, _ = small_sweep
    f = write(tmp_path, (d1 / "sweep.yaml").read_text().replace("name: tiny", "name: tiny2"))
    out = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "--jobs", "2", "--no-plots")
    assert out.exit_code == 0, out.output
    d2 = sweep_dir_of(tmp_path / "runs")
    for a, b in zip(results(d1), results(d2)):
        assert a["best_validation_accuracy"] == b["best_validation_accuracy"]
        assert a["delta_initial_1"] == b["delta_initial_1"]


def test_a_failing_member_does_not_stop_the_others(tmp_path):
    f = write(
        tmp_path,
        "name: bad\nbase: {model: {sizes: [784, 20, 10], activation: relu}, regularization: {l2: 5.0}}\n"
        "grid: {optimizer.learning_rate: [0.5, 1000000.0, 0.1]}\n",
    )
    r = CliRunner().invoke(
        cli, ["sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "-j", "1", "--no-plots", *sets()]
    )
    assert r.exit_code == 1
    rows = results(sweep_dir_of(tmp_path / "runs"))
    assert [x["status"] for x in rows] == ["completed", "diverged", "completed"]
    assert rows[1]["error"].startswith("training diverged in epoch 1")
    assert "failed: m001 (seed 0, " in r.output and ": diverged: training diverged in epoch 1" in r.output
    md = (sweep_dir_of(tmp_path / "runs") / "summary.md").read_text()
    assert "## Members not completed" in md
    # the diverged member's summary (the untrained network's accuracy) is not averaged as a result
    assert "| 1e+06 | 0 of 1 | | | | | |" in md  # (an empty Markdown cell is one space)


def test_a_member_that_crashes_is_that_members_failure(tmp_path, monkeypatch):
    import nnlab.experiment

    real, calls = nnlab.experiment.run_experiment, []

    def flaky(cfg, **kw):
        calls.append(kw["run_dir"])
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(cfg, **kw)

    monkeypatch.setattr(nnlab.experiment, "run_experiment", flaky)
    f = write(tmp_path, "name: crash\nbase: {model: {sizes: [784, 20, 10]}}\nseeds: 3\n")
    r = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "-j", "1", "--no-plots", *sets())
    assert r.exit_code == 1 and len(calls) == 3
    d = sweep_dir_of(tmp_path / "runs")
    assert [(x["status"], x["error"]) for x in results(d)] == [
        ("completed", ""),
        ("failed", "RuntimeError: boom"),
        ("completed", ""),
    ]
    assert "failed: m001 (seed 1, " in r.output and ": failed: RuntimeError: boom" in r.output
    assert json.loads((d / "sweep.json").read_text())["status"] == "failed"


def test_ctrl_c_keeps_the_finished_members_and_their_rows(tmp_path, monkeypatch):
    import nnlab.experiment

    real, calls = nnlab.experiment.run_experiment, []

    def interrupted_second(cfg, **kw):
        calls.append(kw["run_dir"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cfg, **kw)

    monkeypatch.setattr(nnlab.experiment, "run_experiment", interrupted_second)
    f = write(tmp_path, "name: stop\nbase: {model: {sizes: [784, 20, 10]}}\nseeds: 3\n")
    r = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "-j", "1", "--no-plots", *sets())
    assert r.exit_code == 130 and len(calls) == 2  # the third member never started
    d = sweep_dir_of(tmp_path / "runs")
    rows = results(d)
    assert [x["status"] for x in rows] == ["completed", "pending", "pending"]
    s = json.loads((d / "members/m000/summary.json").read_text())
    assert float(rows[0]["best_validation_accuracy"]) == s["best"]["validation_accuracy"]
    assert json.loads((d / "sweep.json").read_text())["status"] == "interrupted"
    assert f"continue with nnlab sweep --resume {d}" in r.output
    monkeypatch.setattr(nnlab.experiment, "run_experiment", real)
    out = invoke("sweep", "--resume", str(d), "--no-plots")
    assert out.exit_code == 0 and "1 of 3 members already completed; running the other 2" in out.output
    assert [x["status"] for x in results(d)] == ["completed"] * 3


def test_resume_runs_only_the_members_not_completed(tmp_path, small_sweep):
    src, _ = small_sweep
    d = tmp_path / "copy"
    shutil.copytree(src, d)
    # m001 was killed mid-run: status running, no summary; m003 never started
    meta = json.loads((d / "members/m001/meta.json").read_text())
    meta["status"] = "running"
    (d / "members/m001/meta.json").write_text(json.dumps(meta))
    (d / "members/m001/summary.json").unlink()
    shutil.rmtree(d / "members/m003")
    before = {m: (d / f"members/{m}/meta.json").stat().st_mtime_ns for m in ("m000", "m002")}
    time.sleep(0.01)
    out = invoke("sweep", "--resume", str(d), "--no-plots")
    assert out.exit_code == 0, out.output
    assert "2 of 4 members already completed; running the other 2" in out.output
    assert before == {m: (d / f"members/{m}/meta.json").stat().st_mtime_ns for m in ("m000", "m002")}
    assert [r["status"] for r in results(d)] == ["completed"] * 4
    # deterministic: the rerun members match the original sweep
    assert [r["best_validation_accuracy"] for r in results(d)] == [r["best_validation_accuracy"] for r in results(src)]
    again = invoke("sweep", "--resume", str(d), "--no-plots")
    assert again.exit_code == 0 and "all 4 members already completed; nothing to run" in again.output


def test_resume_of_a_folder_that_is_not_a_sweep(tmp_path):
    out = invoke("sweep", "--resume", str(tmp_path))
    assert out.exit_code == 2
    assert out.output.strip() == f"error: {tmp_path}: not a sweep directory (no sweep.json)"


def test_resume_of_a_sweep_of_another_format(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"format": 2, "name": "x", "members": []}))
    out = invoke("sweep", "--resume", str(tmp_path))
    assert out.exit_code == 2
    assert out.output.strip() == (
        f"error: {tmp_path}: sweep directory format 2 is not supported; this nnlab reads format 1"
    )


def test_the_activations_sweep_covers_every_hidden_activation(monkeypatch):
    from nnlab.activations import ACTIVATIONS

    monkeypatch.chdir(ROOT)
    names = [n for n in ACTIVATIONS.names() if n not in ("softmax", "identity")]
    assert sorted(load_spec("activations").grid["model.activation"]) == sorted(names)


def test_every_shipped_sweep_is_valid(monkeypatch):
    monkeypatch.chdir(ROOT)
    for f in sorted((ROOT / "configs" / "sweeps").glob("*.yaml")):
        out = invoke("sweep", str(f.relative_to(ROOT)), "--dry-run")
        assert out.exit_code == 0, (f, out.output)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "configs" / "sweeps").glob("*.yaml")))
def test_every_shipped_sweep_runs_as_a_smoke_version(name, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = invoke(
        "sweep",
        name,
        "--seeds",
        "1",
        "--runs-dir",
        str(tmp_path),
        "-j",
        "1",
        "--no-plots",
        *sets("training.batch_size=10", "training.full_batch=false"),
    )
    assert out.exit_code == 0, out.output
    assert all(r["status"] == "completed" for r in results(sweep_dir_of(tmp_path)))


# -- Dask --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_executor_without_dask_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    f = write(tmp_path, "name: nodask\nbase: {model: {sizes: [784, 20, 10]}}\n")
    out = invoke(
        "sweep",
        str(f),
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--no-plots",
        *sets(),
    )
    assert out.exit_code == 2
    assert out.output.strip() == "error: --executor dask needs Dask: pip install 'nnlab[dask]'"
    assert not (tmp_path / "runs").exists()


def test_dask_executor_needs_a_scheduler(tmp_path):
    f = write(tmp_path, "name: nosched\nbase: {model: {sizes: [784, 20, 10]}}\n")
    out = invoke("sweep", str(f), "--executor", "dask", "--runs-dir", str(tmp_path / "runs"), *sets())
    assert out.exit_code == 2
    assert out.output.strip() == "error: --executor dask needs --scheduler tcp://HOST:PORT"
    assert not (tmp_path / "runs").exists()


def test_dask_task_keys_are_unique_to_each_submission(tmp_path, monkeypatch):
    """Two clients of one cluster with same-named sweep folders (same second, other machines), or a
    resume while the scheduler still holds the old tasks, must never be handed each other's results."""
    import types

    from nnlab.sweep import execute

    keys: list[str] = []

    class Future:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

        def done(self):
            return True

    class Client:
        def __init__(self, address, timeout):
            pass

        def submit(self, fn, *args, key, pure):
            assert pure is False
            keys.append(key)
            return Future(({"status": "completed", "error": None}, {"meta.json": b"{}"}))

        def close(self):
            pass

    fake = types.ModuleType("dask.distributed")
    fake.Client, fake.as_completed = Client, iter
    monkeypatch.setitem(sys.modules, "dask.distributed", fake)
    outcomes = []
    for root in ("a", "b"):  # one sweep folder name under two runs folders
        run_dir = tmp_path / root / "sweeps" / "20261123-010000-depth" / "members" / "m000"
        execute.execute_dask([("m000", {}, [], run_dir, "depth")], "tcp://x:1", lambda mid, o: outcomes.append(o))
        assert (run_dir / "meta.json").read_bytes() == b"{}"
    assert len(set(keys)) == 2 and all(k.startswith("nnlab-20261123-010000-depth-m000-") for k in keys)
    assert [o["status"] for o in outcomes] == ["completed", "completed"]


def test_a_sweep_runs_on_a_real_dask_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("dask command not installed")
    port = _free_port()
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [
        subprocess.Popen(
            [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    ]
    try:
        time.sleep(2)
        procs.append(
            subprocess.Popen(
                [
                    str(dask),
                    "worker",
                    f"tcp://127.0.0.1:{port}",
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / "worker"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=tmp_path,
            )
        )
        f = write(tmp_path, "name: dasky\nbase: {model: {sizes: [784, 20, 10]}}\nseeds: 2\n")
        out = invoke(
            "sweep",
            str(f),
            "--executor",
            "dask",
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--no-plots",
            *sets(),
        )
        assert out.exit_code == 0, out.output
        d = sweep_dir_of(tmp_path / "runs")
        rows = results(d)
        assert [r["status"] for r in rows] == ["completed", "completed"]
        for r in rows:  # the files came back from the worker and parse
            s = json.loads((d / "members" / r["id"] / "summary.json").read_text())
            assert s["status"] == "completed"
            assert (d / "members" / r["id"] / "weights.npz").stat().st_size > 1000
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
