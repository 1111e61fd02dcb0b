"""nnlab.results: the reader of run and sweep directories (docs/run-directory.md)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from synthetic_runs import delta, val_acc, write_run, write_sweep

from nnlab.errors import UserError
from nnlab.results import (
    DIAGNOSIS_FILE,
    EVALUATION_FILE,
    MISTAKES_FILE,
    differing_keys,
    find_runs,
    is_run_dir,
    is_sweep_dir,
    load_run,
    load_sweep,
    point_label,
    read_findings,
    read_metric_rows,
    read_metrics,
    read_summary,
    read_sweep_json,
    run_status,
)
from nnlab.sweep.aggregate import member_record
from nnlab.sweep.expand import Member


def test_metrics_columns_match_csv(tmp_path):
    run = load_run(write_run(tmp_path / "r"))
    with open(tmp_path / "r" / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(run.metrics) == list(rows[0])
    for col, values in run.metrics.items():
        assert values.dtype == float and len(values) == len(rows) == 5
        for v, row in zip(values, rows):
            if row[col] == "":
                assert math.isnan(v)
            else:
                assert v == float(row[col])
    assert math.isnan(run.metrics["train_accuracy"][2])  # the empty cell


def test_metric_rows_keep_empty_cells_apart_from_nan(tmp_path):
    """The rows a resumed run takes back: an empty cell is None (not measured), "nan" stays NaN (diverged)."""
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_loss,validation_accuracy\n0,0,,0.1\n1,30,nan,0.5\n2,60,0.25,\n")
    rows = read_metric_rows(path)
    assert [r["epoch"] for r in rows] == [0.0, 1.0, 2.0]
    assert rows[0]["train_loss"] is None and rows[2]["validation_accuracy"] is None
    assert math.isnan(rows[1]["train_loss"]) and rows[2]["train_loss"] == 0.25
    assert list(rows[0]) == ["epoch", "step", "train_loss", "validation_accuracy"]
    cols = read_metrics(path)  # the column view of the same parse: both empty and "nan" are NaN
    assert np.isnan(cols["train_loss"][:2]).all() and cols["train_loss"][2] == 0.25
    assert cols["step"].tolist() == [0.0, 30.0, 60.0]


def test_metric_rows_of_a_missing_or_header_only_file(tmp_path):
    assert read_metric_rows(tmp_path / "none.csv") == []
    (tmp_path / "head.csv").write_text("epoch,step\n")
    assert read_metric_rows(tmp_path / "head.csv") == []
    assert {k: v.tolist() for k, v in read_metrics(tmp_path / "head.csv").items()} == {"epoch": [], "step": []}


def test_long_tables(tmp_path):
    run = load_run(write_run(tmp_path / "r"))
    assert set(run.gradients) == {"delta_norm", "weight_grad_norm", "batch_grad_norm", "update_ratio"}
    assert sorted(run.gradients["delta_norm"]) == [1, 2, 3, 4]
    epochs, steps, values = run.gradients["delta_norm"][2]
    assert epochs.tolist() == [0, 1, 2, 3, 4]
    assert steps.tolist() == [0, 50, 100, 150, 200]
    assert values.tolist() == [delta(2, e) for e in range(5)]
    assert run.gradients["update_ratio"][3].epochs.tolist() == [1, 2, 3, 4]
    assert set(run.activations) == {"mean", "saturated_fraction"}
    assert run.delta_norms("initial") == {l: delta(l, 0) for l in range(1, 5)}
    assert run.delta_norms("final") == {l: delta(l, 4) for l in range(1, 5)}


def test_run_properties(tmp_path):
    run = load_run(write_run(tmp_path / "r", best=3))
    assert run.name == "synthetic" and run.status == "completed" and run.seed == 0
    assert run.n_layers == 4 and run.hidden_layers == [1, 2, 3]
    assert run.layer_label(1) == "hidden layer 1" and run.layer_label(4) == "output layer"
    assert run.best_epoch() == 3 and run.final_epoch == 4
    assert run.result("best", "validation_accuracy") == val_acc(3, 3)
    assert run.result("final", "test_accuracy") == round(val_acc(4, 3) - 0.02, 6)
    assert run.steps_per_epoch == 50
    assert run.wall_seconds == 12.5


def test_unfinished_run_falls_back_to_metrics(tmp_path):
    run = load_run(write_run(tmp_path / "r", best=2, summary=False))
    assert run.summary is None
    assert run.best_epoch() == 2  # earliest epoch of the highest validation accuracy
    assert run.result("best", "validation_accuracy") == val_acc(2, 2)
    assert run.wall_seconds == pytest.approx(sum(0.25 + 0.01 * e for e in range(1, 5)))


def test_instruments_off(tmp_path):
    run = load_run(write_run(tmp_path / "r", gradients=False, batch_stats=False, activations=False))
    assert run.gradients == {} and run.activations == {}  # no gradients.csv; header-only activations.csv
    assert run.delta_norms() == {}
    assert run.n_layers == 4


def test_not_a_run_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        load_run(tmp_path / "empty")
    assert str(e.value).startswith(f"{tmp_path / 'empty'}: not a run directory (no meta.json); ")
    with pytest.raises(UserError, match="not a run directory"):
        find_runs(tmp_path / "empty")
    with pytest.raises(UserError, match="no such"):
        load_run(tmp_path / "nope")
    assert not is_run_dir(tmp_path / "empty") and not is_sweep_dir(tmp_path / "empty")


def test_unknown_format(tmp_path):
    with pytest.raises(UserError) as e:
        load_run(write_run(tmp_path / "r", fmt=7))
    assert "format 7" in str(e.value) and "format 1" in str(e.value)


def test_find_runs(tmp_path):
    a = write_run(tmp_path / "runs" / "a")
    b = write_run(tmp_path / "runs" / "b")
    (tmp_path / "runs" / "README.md").write_text("x")
    assert find_runs(a) == [a]
    assert find_runs(tmp_path / "runs") == [a, b]


def test_sweep(tmp_path):
    path = write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1), missing=("m001",), unfinished=("m002",))
    assert is_sweep_dir(path) and not is_run_dir(path)
    sweep = load_sweep(path)
    assert sweep.name == "depth" and sweep.keys == ["model.sizes"]
    assert [m.id for m in sweep.members] == ["m000", "m003"]
    assert dict(sweep.skipped) == {"m001": "no run directory", "m002": "unfinished (no summary.json)"}
    m = sweep.members[1]
    assert m.point == {"model.sizes": [784, 30, 30, 10]} and m.seed == 1 and m.label == "784-30-30-10"
    assert m.run.n_layers == 3
    assert find_runs(path) == [path / "members" / "m000", path / "members" / "m003"]


def test_a_member_folder_not_yet_a_run_is_pending(tmp_path):
    """A sweep asks about members that have not started, or are starting: never an error."""
    folder = tmp_path / "members" / "m000"
    assert run_status(folder) == ("pending", None)  # no folder yet
    folder.mkdir(parents=True)
    assert run_status(folder) == ("pending", None)  # no meta.json yet
    (folder / "meta.json").write_text('{"format": 1, "stat')
    (folder / "summary.json").write_text("[1, 2]")
    assert run_status(folder) == ("pending", None)  # partial meta.json
    assert read_summary(folder) is None  # not an object
    member = Member("m000", {"model.sizes": [784, 10]}, 0, [])
    assert member_record(tmp_path, member, None) == {"status": "pending", "error": None, "summary": None}
    (folder / "meta.json").write_text(json.dumps({"format": 1, "status": "failed", "error": "boom"}))
    (folder / "summary.json").write_text('{"epochs_completed": 2}')
    assert run_status(folder) == ("failed", "boom")
    assert member_record(tmp_path, member, None) == {
        "status": "failed",
        "error": "boom",
        "summary": {"epochs_completed": 2},
    }


def test_sweep_json_of_another_format_is_one_clear_error(tmp_path):
    path = write_sweep(tmp_path / "s", depths=(1,), seeds=(0,))
    assert read_sweep_json(path)["name"] == "depth"
    doc = json.loads((path / "sweep.json").read_text())
    (path / "sweep.json").write_text(json.dumps({**doc, "format": 2}))
    want = f"{path}: sweep directory format 2 is not supported; this nnlab reads format 1"
    for read in (read_sweep_json, load_sweep):
        with pytest.raises(UserError) as e:
            read(path)
        assert str(e.value) == want
    (path / "sweep.json").write_text('{"format": 1,')
    with pytest.raises(UserError) as e:
        read_sweep_json(path)
    assert (
        str(e.value)
        == f"{path / 'sweep.json'}: not valid JSON (line 1: Expecting property name enclosed in double quotes)"
    )
    with pytest.raises(UserError) as e:
        read_sweep_json(tmp_path)
    assert str(e.value) == f"{tmp_path}: not a sweep directory (no sweep.json)"


def test_load_run_without_tables_reads_no_csv(tmp_path):
    path = write_run(tmp_path / "r")
    (path / "metrics.csv").write_text("epoch,step\n0,not-a-number,extra\n")
    (path / "gradients.csv").write_text("no,such,columns\n")  # read_long would refuse it
    run = load_run(path, tables=False)
    assert run.metrics == {} and run.gradients == {} and run.activations == {} and run.curvature == {}
    assert run.summary["best"]["epoch"] == 3 and run.config["optimizer"]["learning_rate"] == 0.5
    with pytest.raises(UserError, match="missing column"):
        load_run(path)


def test_findings_from_diagnosis_json_else_the_summary(tmp_path):
    path = write_run(tmp_path / "r")
    run = load_run(path, tables=False)
    assert run.findings == [] and read_findings(tmp_path / "nowhere") == []
    s = json.loads((path / "summary.json").read_text())
    (path / "summary.json").write_text(json.dumps({**s, "diagnosis": [{"rule": "a"}, "not a finding"]}))
    assert run.findings == [{"rule": "a"}]  # read when asked, not when the run was loaded
    (path / DIAGNOSIS_FILE).write_text(json.dumps({"findings": [{"rule": "b"}]}))
    assert run.findings == [{"rule": "b"}]
    (path / DIAGNOSIS_FILE).write_text(json.dumps({"no": "findings"}))
    assert run.findings == [{"rule": "a"}]


def test_evaluation_absent_readable_or_one_error(tmp_path):
    run = load_run(write_run(tmp_path / "r"), tables=False)
    assert run.evaluation() is None
    path = run.path / EVALUATION_FILE
    path.write_text(json.dumps({"part": "test", "weights": {"final": {"accuracy": 0.5}}}))
    assert run.evaluation()["weights"]["final"]["accuracy"] == 0.5
    path.write_text(json.dumps({"weights": {}}))
    with pytest.raises(UserError) as e:
        run.evaluation()
    assert str(e.value) == f"{path}: unreadable (no weights)"
    with pytest.raises(UserError) as e:
        run.mistake_inputs("final")
    assert str(e.value).startswith(f"{run.path / MISTAKES_FILE}: missing or unreadable (")
    np.savez(run.path / MISTAKES_FILE, X_final=np.arange(6).reshape(2, 3))
    assert run.mistake_inputs("final").tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(UserError, match="X_best"):
        run.mistake_inputs("best")


def test_differing_keys(tmp_path):
    a = load_run(write_run(tmp_path / "a", seed=0))
    b = load_run(write_run(tmp_path / "b", seed=1, name="other"))
    c = load_run(write_run(tmp_path / "c", config_extra={"optimizer.learning_rate": 0.1}))
    assert differing_keys([a, b]) == []
    assert differing_keys([a, b, c]) == ["optimizer.learning_rate"]
    assert point_label({"optimizer.learning_rate": 0.1, "model.sizes": [784, 10]}) == "learning_rate=0.1, sizes=784-10"


def test_reads_no_pickle(tmp_path):
    """weights.npz etc. are never opened: a run is read from CSV, JSON and YAML only."""
    path = write_run(tmp_path / "r")
    (path / "weights.npz").write_bytes(b"not an npz")
    run = load_run(path)
    assert run.summary["best"]["epoch"] == 3
    json.dumps(run.meta)
    assert isinstance(run.metrics["epoch"], np.ndarray)
