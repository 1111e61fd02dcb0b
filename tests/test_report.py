"""nnlab report: tables of final/best accuracy, per-layer ||δ^l|| and wall time."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_runs import delta, val_acc, write_run, write_sweep

from nnlab.cli.main import cli
from nnlab.reporting import build_report, to_markdown


def invoke(*args: str):
    return CliRunner().invoke(cli, ["report", *args])


@pytest.fixture
def runs(tmp_path) -> list[Path]:
    return [
        write_run(tmp_path / "a", name="deep", best=3),
        write_run(tmp_path / "b", name="shallow", sizes=(784, 30, 10), epochs=3, best=2, seed=1),
    ]


def test_json(runs):
    result = invoke(*map(str, runs), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    a, b = doc["runs"]
    assert a["run"] == "deep" and a["path"] == str(runs[0]) and a["status"] == "completed"
    assert a["final_epoch"] == 4 and a["best_epoch"] == 3
    assert a["final_validation_accuracy"] == val_acc(4, 3)
    assert a["best_validation_accuracy"] == val_acc(3, 3)
    assert a["best_test_accuracy"] == round(val_acc(3, 3) - 0.02, 6)
    assert a["final_train_accuracy"] == round(val_acc(4, 3) + 0.05, 6)
    assert a["wall_seconds"] == 12.5
    assert a["delta_norms"]["initial"] == [delta(l, 0) for l in range(1, 5)]
    assert a["delta_norms"]["final"] == [delta(l, 4) for l in range(1, 5)]
    assert b["layers"] == 2 and b["seed"] == 1 and b["wall_seconds"] == 13.5
    assert b["delta_norms"]["initial"] == [delta(1, 0, 1), delta(2, 0, 1)]


def test_csv(runs, tmp_path):
    out = tmp_path / "report.csv"
    result = invoke(*map(str, runs), "--output", str(out))  # format from the suffix
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2
    a, b = rows
    assert float(a["final_test_accuracy"]) == round(val_acc(4, 3) - 0.02, 6)
    assert int(a["best_epoch"]) == 3 and a["sizes"] == "784-30-30-30-10"
    # hidden layers aligned from the input, the output layer in its own column
    assert [float(a[f"delta_initial_{k}"]) for k in ("h1", "h2", "h3", "out")] == [delta(l, 0) for l in range(1, 5)]
    assert float(b["delta_initial_h1"]) == delta(1, 0, 1) and b["delta_initial_h2"] == ""
    assert float(b["delta_initial_out"]) == delta(2, 0, 1)
    assert float(b["delta_final_out"]) == delta(2, 3, 1)


def test_markdown_and_table(runs):
    result = invoke(*map(str, runs), "--format", "md")
    assert result.exit_code == 0
    md = result.stdout
    assert "| run | model sizes | training epochs | status |" in md  # what differs between the two runs
    assert "| deep | 784-30-30-30-10 | 4 | completed | 4 | " in md
    assert f"| {100 * val_acc(3, 3):.2f} |" in md  # best validation %
    assert "| run | hidden 1 | hidden 2 | hidden 3 | output |" in md
    assert f"{delta(1, 0):.3g} → {delta(1, 4):.3g}" in md
    result = invoke(*map(str, runs))
    assert result.exit_code == 0
    assert "deep" in result.stdout and "shallow" in result.stdout
    assert f"{100 * val_acc(4, 3):.2f}" in result.stdout and "12.5s" in result.stdout


def test_unfinished_run(tmp_path):
    run = write_run(tmp_path / "r", summary=False, best=2)
    doc = json.loads(invoke(str(run), "--format", "json").stdout)
    (row,) = doc["runs"]
    assert row["best_epoch"] == 2 and row["best_validation_accuracy"] == val_acc(2, 2)
    assert row["final_train_accuracy"] == round(val_acc(4, 2) + 0.05, 6)


def test_sweep_one_row_per_member(tmp_path):
    sweep = write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1), missing=("m003",))
    doc = json.loads(invoke(str(sweep), "--format", "json").stdout)
    assert doc["keys"] == ["model.sizes"]
    assert [r["member"] for r in doc["runs"]] == ["m000", "m001", "m002"]
    assert doc["runs"][2]["point"] == {"model.sizes": [784, 30, 30, 10]} and doc["runs"][1]["seed"] == 1
    rows = list(csv.DictReader(io.StringIO(invoke(str(sweep), "--format", "csv").stdout)))
    assert [r["model.sizes"] for r in rows] == ["784-30-10", "784-30-10", "784-30-30-10"]
    assert "m002 784-30-30-10 s0" in invoke(str(sweep), "--format", "md").stdout


def test_sweep_configurations_mean_std(tmp_path):
    sweep = write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1, 2))
    doc = json.loads(invoke(str(sweep), "--format", "json").stdout)
    one, two = doc["configurations"]
    assert one["config"] == "784-30-10" and one["runs"] == 3 and one["seeds"] == [0, 1, 2]
    vals = [r["final_validation_accuracy"] for r in doc["runs"][:3]]
    assert one["final_validation_accuracy"]["mean"] == pytest.approx(sum(vals) / 3)
    assert one["final_validation_accuracy"]["std"] == pytest.approx(0.001)  # n - 1
    assert [d["mean"] for d in two["delta_initial"]] == pytest.approx(
        [sum(delta(l, 0, s) for s in range(3)) / 3 for l in (1, 2, 3)]
    )
    md = invoke(str(sweep), "--format", "md").stdout
    assert "## Per configuration: mean ± std over seeds" in md
    assert f"| 784-30-30-10 | 3 | {100 * two['final_validation_accuracy']['mean']:.2f} ± 0.10 |" in md


def test_non_run_folder_exit_2(tmp_path):
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {tmp_path}: not a run directory (no meta.json); give a folder written by `nnlab train`"
        " (runs/<stamp>-<name>/), a sweep folder or a folder holding runs\n"
    )
    result = invoke(str(tmp_path / "missing"))
    assert result.exit_code == 2 and "no such file or directory" in result.stderr


def test_real_run(tmp_path):
    runs = tmp_path / "runs"
    config = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(config),
            "--runs-dir",
            str(runs),
            "-q",
            "--set",
            "training.epochs=2",
            "--set",
            "data.train_size=300",
            "--set",
            "instruments.probe_size=100",
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    doc = json.loads(invoke(str(runs), "--format", "json").stdout)  # a folder of runs
    (row,) = doc["runs"]
    assert row["final_validation_accuracy"] == summary["final"]["validation_accuracy"]
    assert row["best_epoch"] == summary["best"]["epoch"]
    assert row["delta_norms"]["initial"] == pytest.approx(summary["delta_norms"]["initial"])
    assert row["delta_norms"]["final"] == pytest.approx(summary["delta_norms"]["final"])
    assert row["wall_seconds"] == summary["wall_seconds"]
    assert "hidden 1" in to_markdown(build_report([run_dir]))


def test_runs_grouped_by_what_differs(tmp_path):
    dirs = [
        write_run(tmp_path / f"r{i}", seed=i % 2, config_extra={"optimizer.learning_rate": lr})
        for i, lr in enumerate([0.1, 0.1, 0.5, 0.5])
    ]
    doc = json.loads(invoke(*map(str, dirs), "--format", "json").stdout)
    assert [c["config"] for c in doc["configurations"]] == ["0.1", "0.5"]
    assert [c["seeds"] for c in doc["configurations"]] == [[0, 1], [0, 1]]
    rows = list(csv.DictReader(io.StringIO(invoke(*map(str, dirs), "--format", "csv").stdout)))
    assert [r["optimizer.learning_rate"] for r in rows] == ["0.1", "0.1", "0.5", "0.5"]
    # two different runs, one each: no configuration table
    assert "configurations" not in json.loads(invoke(str(dirs[0]), str(dirs[2]), "--format", "json").stdout)


def test_runs_given_one_by_one_show_what_differs_as_columns_and_nothing_that_does_not_apply(tmp_path):
    adam = {"name": "adam", "learning_rate": 0.001, "rho1": 0.9, "rho2": 0.999, "delta": 1e-08}
    dirs = [
        write_run(tmp_path / "sgd", name="sgd"),
        write_run(tmp_path / "adam", name="adam", config_extra={"optimizer": adam}),
        write_run(tmp_path / "relu", name="relu", activation="relu"),
    ]
    out = invoke(*map(str, dirs)).stdout
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("run"))
    assert lines[head - 1].split()[:3] == ["model", "optimizer", "optimizer"]
    assert lines[head].split()[:4] == ["run", "activation", "learning_rate", "name"]
    rows = {line.split()[0]: line.split()[1:4] for line in lines[head + 2 : head + 5]}
    assert rows == {
        "sgd": ["sigmoid", "0.5", "sgd"],
        "adam": ["sigmoid", "0.001", "adam"],
        "relu": ["relu", "0.5", "sgd"],
    }
    assert "rho1" not in out and "delta" not in out.split("‖")[0]
    md = invoke(*map(str, dirs), "--format", "md").stdout
    assert "| run | model activation | optimizer learning_rate | optimizer name |" in md
