"""The notebook API: nnlab.load_run / load_sweep with pandas views, nnlab.plotting.figure, and the
example notebook in docs/ executed end to end (nbclient, the dev extra's kernel)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import matplotlib.figure
import nbformat
import numpy as np
import pytest
from synthetic_runs import write_run, write_sweep

import nnlab
from nnlab.plotting import SkipFigure

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "vanishing-gradient.ipynb"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_metrics_df_is_metrics_csv_with_integer_epochs(tmp_path):
    run = nnlab.load_run(write_run(tmp_path / "r", epochs=3))
    df = run.metrics_df
    rows = csv_rows(run.path / "metrics.csv")
    assert list(df.columns) == list(rows[0])
    assert df["epoch"].tolist() == [0, 1, 2, 3] and df["epoch"].dtype.kind == "i"
    for i, row in enumerate(rows):
        for column, cell in row.items():
            if cell == "":
                assert np.isnan(df[column][i])  # the synthetic run's one empty cell
            else:
                assert df[column][i] == float(cell)


def test_gradients_df_holds_every_csv_row_with_the_layer_label(tmp_path):
    run = nnlab.load_run(write_run(tmp_path / "r", sizes=(784, 30, 30, 10), epochs=2))
    df = run.gradients_df
    assert list(df.columns) == ["step", "epoch", "layer", "label", "quantity", "value"]
    want = sorted(
        (int(r["step"]), r["quantity"], int(r["layer"]), float(r["value"]))
        for r in csv_rows(run.path / "gradients.csv")
    )
    got = sorted(zip(df["step"], df["quantity"], df["layer"], df["value"]))
    assert got == want
    assert dict(zip(df["layer"], df["label"])) == {1: "dense1", 2: "dense2", 3: "output"}


def test_conv_layers_are_labelled_as_the_csvs_label_them(tmp_path):
    layers = [
        {"kind": "conv2d", "filters": 4, "kernel": 5},
        {"kind": "maxpool2d", "size": 2},
        {"kind": "dense", "units": 10},
        {"kind": "dense", "units": 10},
    ]
    run_dir = write_run(tmp_path / "c", sizes=(784, 30, 30, 10), epochs=1)
    run = nnlab.load_run(run_dir)
    run.config["model"] = {"input": [1, 28, 28], "layers": layers}
    assert [run.csv_label(l) for l in (1, 2, 3)] == ["conv1", "dense2", "output"]


def test_epochs_df_puts_each_quantity_at_the_epochs_end_beside_the_metrics(tmp_path):
    from synthetic_runs import delta

    run = nnlab.load_run(write_run(tmp_path / "r", sizes=(784, 30, 30, 10), epochs=3, seed=1))
    wide = run.epochs_df
    assert wide.index.tolist() == [0, 1, 2, 3]
    for e in range(4):
        assert wide.loc[e, "delta_norm/dense1"] == delta(1, e, seed=1)
        assert wide.loc[e, "delta_norm/output"] == delta(3, e, seed=1)
    assert np.isnan(wide.loc[0, "update_ratio/dense2"])  # measured over steps: none before the first
    assert "validation_accuracy" in wide and "saturated_fraction/dense2" in wide


def test_sweep_members_df_has_a_row_per_member_with_its_key_and_results(tmp_path):
    sweep_dir = write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1))
    sweep = nnlab.load_sweep(sweep_dir)
    df = sweep.members_df
    spec = json.loads((sweep_dir / "sweep.json").read_text())
    assert df["member"].tolist() == [m["id"] for m in spec["members"]]
    assert df["model.sizes"].tolist() == ["-".join(map(str, m["point"]["model.sizes"])) for m in spec["members"]]
    for _, row in df.iterrows():
        summary = json.loads((sweep_dir / "members" / row["member"] / "summary.json").read_text())
        assert row["best_validation_accuracy"] == summary["best"]["validation_accuracy"]
        assert row["best_epoch"] == summary["best"]["epoch"]
    long = sweep.metrics_df
    assert len(long) == sum(len(m.run.metrics["epoch"]) for m in sweep.members)
    assert list(long.columns[:3]) == ["member", "seed", "model.sizes"]


def test_figure_returns_a_matplotlib_figure_and_names_the_unknown_and_the_skipped(tmp_path):
    run = nnlab.load_run(write_run(tmp_path / "r", epochs=2))
    assert isinstance(nnlab.plotting.figure("speed_of_learning", run), matplotlib.figure.Figure)
    with pytest.raises(ValueError, match=r"unknown figure 'speed_of_lerning' \(did you mean 'speed_of_learning'\?\)"):
        nnlab.plotting.figure("speed_of_lerning", run)
    bare = nnlab.load_run(write_run(tmp_path / "bare", epochs=2, gradients=False, batch_stats=False))
    with pytest.raises(SkipFigure, match="speed of learning: skipped"):
        nnlab.plotting.figure("speed_of_learning", bare)
    sweep = nnlab.load_sweep(write_sweep(tmp_path / "s", depths=(1, 2), seeds=(0, 1)))
    assert isinstance(nnlab.plotting.figure("compare_accuracy", sweep), matplotlib.figure.Figure)


def test_the_notebook_is_the_one_its_script_writes():
    spec = importlib.util.spec_from_file_location("make_notebook", ROOT / "scripts" / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in module.nb.cells]
    assert all(not c.get("outputs") for c in committed.cells)  # committed without outputs


def test_example_notebook_runs_and_redraws_the_vanishing_gradient_from_its_run(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    (run_dir,) = (tmp_path / "runs").iterdir()
    # the ratio printed for each epoch is gradients.csv's last hidden layer over its first
    rows = [r for r in csv_rows(run_dir / "gradients.csv") if r["quantity"] == "delta_norm"]
    value = {(int(r["epoch"]), r["label"]): float(r["value"]) for r in rows}
    printed = "".join(o.text for o in outputs if o.output_type == "stream" and "‖δ‖ of dense4" in o.text)
    lines = printed.strip().splitlines()
    assert len(lines) == 6  # epochs 0..5
    for line in lines:
        epoch = int(line.split(":")[0].split()[1])
        assert line.endswith(f"= {value[(epoch, 'dense4')] / value[(epoch, 'dense1')]:.1f}")
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # nnlab's figure and the one drawn from the DataFrame
