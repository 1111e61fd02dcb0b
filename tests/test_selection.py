"""nnlab.results.select and group: what the commands and the notebook API read from PATHS, and the one
grouping of runs by configuration that plots, reports and sweep summaries share."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from synthetic_runs import write_run, write_sweep

from nnlab.cli.main import cli
from nnlab.errors import UserError
from nnlab.reporting import build_report, configurations
from nnlab.results import group, load_run, load_sweep, select


def _lr_runs(tmp_path, lrs=(0.1, 0.1, 0.5, 0.5)):
    return [
        write_run(tmp_path / f"r{i}", seed=i % 2, config_extra={"optimizer.learning_rate": lr})
        for i, lr in enumerate(lrs)
    ]


def test_one_sweep_is_its_members_with_their_grid_points(tmp_path):
    d = write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1, 2), unfinished=("m005",))
    sel = select([d])
    assert sel.keys == ["model.sizes"] and sel.title == "sweep depth"
    assert [m.id for m in sel.members] == ["m000", "m001", "m002", "m003", "m004"]
    assert sel.members[3].point == {"model.sizes": [784, 30, 30, 10]} and sel.members[3].seed == 0
    assert sel.sweep is not None and sel.notes == ["sweep member m005: skipped, unfinished (no summary.json)"]
    keys, groups = group(sel)
    assert keys == ["model.sizes"] and [g.label for g in groups] == ["784-30-10", "784-30-30-10"]
    assert [[m.id for m in g.members] for g in groups] == [["m000", "m001", "m002"], ["m003", "m004"]]
    # the Sweep itself groups the same way
    assert [[r.path for r in g.runs] for g in group(load_sweep(d))[1]] == [[r.path for r in g.runs] for g in groups]


def test_runs_are_grouped_by_what_differs_but_the_seed(tmp_path):
    dirs = _lr_runs(tmp_path)
    sel = select(dirs)
    assert sel.keys == ["optimizer.learning_rate"] and sel.title == "4 runs" and sel.sweep is None
    assert [m.point for m in sel.members] == [{"optimizer.learning_rate": v} for v in (0.1, 0.1, 0.5, 0.5)]
    assert all(m.id is None for m in sel.members)
    keys, groups = group(sel)
    assert [g.label for g in groups] == ["0.1", "0.5"]
    assert [[r.seed for r in g.runs] for g in groups] == [[0, 1], [0, 1]]
    # a list of Runs (the notebook's way) gives the same groups as the paths
    keys2, groups2 = group([load_run(d) for d in dirs])
    assert keys2 == keys and [[r.path for r in g.runs] for g in groups2] == [[r.path for r in g.runs] for g in groups]


def test_a_folder_of_runs_is_its_runs(tmp_path):
    _lr_runs(tmp_path / "runs", lrs=(0.1, 0.5))
    sel = select(tmp_path / "runs")
    assert [m.run.path.name for m in sel.members] == ["r0", "r1"] and sel.keys == ["optimizer.learning_rate"]


def test_one_run_has_no_configuration(tmp_path):
    sel = select([write_run(tmp_path / "r", name="alone")])
    assert sel.title == "alone" and sel.keys == [] and sel.members[0].point is None
    assert group(sel) == ([], [])
    assert configurations(build_report(sel)) == []


def test_two_sweeps_are_grouped_by_what_differs_across_all_their_members(tmp_path):
    a = write_sweep(tmp_path / "a", depths=(1,), seeds=(0, 1))
    b = write_sweep(tmp_path / "b", depths=(2,), seeds=(0, 1))
    sel = select([a, b])
    assert sel.keys == ["model.sizes"] and len(sel.sweeps) == 2 and sel.sweep is None
    assert [m.id for m in sel.members] == ["m000", "m001", "m000", "m001"]  # member ids are kept
    aggs = configurations(build_report(sel))
    assert [(c["config"], c["runs"], c["seeds"]) for c in aggs] == [
        ("784-30-10", 2, [0, 1]),
        ("784-30-30-10", 2, [0, 1]),
    ]


def test_nothing_to_select_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="^give at least one run directory or sweep directory$"):
        select([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a run directory"):
        select([tmp_path / "empty"])


def test_plot_report_and_html_agree_on_the_configurations(tmp_path):
    """The figures' groups, the report's configuration table and the JSON come from the one grouping."""
    dirs = _lr_runs(tmp_path)
    doc = json.loads(CliRunner().invoke(cli, ["report", *map(str, dirs), "--format", "json"]).stdout)
    _, groups = group(select(dirs))
    assert [c["config"] for c in doc["configurations"]] == [g.label for g in groups]
    assert [c["runs"] for c in doc["configurations"]] == [len(g.runs) for g in groups]
    from nnlab.plotting import specs

    figures, notes = specs(select(dirs))
    overlay = next(f for f in figures if f.name == "overlay_accuracy")
    labels = {s.label for p in overlay.panels for s in p.series if s.label}
    assert {"0.1 (mean of 2)", "0.5 (mean of 2)"} <= labels


def test_the_notebook_api_reads_several_runs_as_the_commands_do(tmp_path):
    import nnlab

    dirs = _lr_runs(tmp_path)
    sel = nnlab.select(dirs)
    df = sel.members_df
    assert list(df["optimizer.learning_rate"]) == [0.1, 0.1, 0.5, 0.5] and list(df["seed"]) == [0, 1, 0, 1]
    assert df["member"].isna().all()  # runs given by themselves are no sweep's members
    assert list(df["best_validation_accuracy"]) == [m.run.result("best", "validation_accuracy") for m in sel.members]
    metrics = sel.metrics_df
    assert len(metrics) == sum(len(m.run.epochs) for m in sel.members)
    assert set(metrics.groupby("optimizer.learning_rate").size()) == {len(sel.members[0].run.epochs) * 2}
    fig = nnlab.plotting.figure("overlay_accuracy", sel)
    assert {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()} >= {
        "0.1 (mean of 2)",
        "0.5 (mean of 2)",
    }
