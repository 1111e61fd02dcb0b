"""Every instrument on, on a dense and on a conv net: the rows are labelled per layer and
nnlab plot draws the new figures from them (values checked against the files)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.experiment import run_experiment
from nnlab.plotting import figures
from nnlab.results import load_run

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = [
    "data.dataset=mnist-mini",
    "data.train_size=200",
    "data.validation_size=100",
    "data.test_size=100",
    "instruments.probe_size=60",
    "training.epochs=3",
    "instruments.per_sample=true",
    "instruments.histograms=true",
    "instruments.hessian=true",
    "instruments.hessian_batch=40",
]
NEW = ["gradient_flow", "distance_from_init", "gradient_noise", "hessian_eigenvalue", "histograms"]
CONFIGS = {
    "dense": ("configs/quickstart.yaml", {(1, "dense1"), (2, "dense2"), (3, "output")}),
    "conv": ("configs/conv/r6-conv2.yaml", {(1, "conv1"), (2, "conv2"), (3, "dense3"), (4, "output")}),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def run_dir(request, tmp_path_factory):
    path, _ = CONFIGS[request.param]
    result = run_experiment(load_config(path, SMALL), runs_dir=tmp_path_factory.mktemp("runs"), display="quiet")
    assert result.status == "completed"
    return request.param, result.run_dir


def rows(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_new_quantity_is_recorded_for_every_layer_at_every_epoch(run_dir):
    kind, path = run_dir
    labels = CONFIGS[kind][1]
    grad = rows(path / "gradients.csv")
    for q in ("distance", "distance_rel", "grad_abs_mean", "grad_abs_max", "grad_snr", "norm_test"):
        got = {(int(r["layer"]), r["label"], int(r["epoch"])) for r in grad if r["quantity"] == q}
        assert got == {(l, lab, e) for l, lab in labels for e in range(4)}, q
        for r in grad:
            if r["quantity"] != q:
                continue
            # R6's output layer starts at zero: no relative distance for it, and at initialization no
            # gradient behind it (δ^l = 0 on every example: SNR and norm test undefined)
            undefined = kind == "conv" and (
                (q == "distance_rel" and r["label"] == "output")
                or (q in ("grad_snr", "norm_test") and r["epoch"] == "0" and r["label"] != "output")
            )
            assert np.isfinite(float(r["value"])) != undefined, r
    assert {int(r["epoch"]) for r in grad if r["quantity"] == "update_size"} == {1, 2, 3}
    eig = [r for r in rows(path / "curvature.csv") if r["quantity"] == "hessian_max_eig"]
    assert [(r["epoch"], r["layer"], r["label"]) for r in eig] == [(str(e), "0", "network") for e in range(4)]
    assert all(float(r["value"]) > 0 for r in eig)


def test_nnlab_plot_draws_the_new_figures(run_dir):
    _, path = run_dir
    out = CliRunner().invoke(cli, ["plot", str(path)])
    assert out.exit_code == 0, out.output
    for name in NEW:
        png = path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000, name
        assert str(png) in out.output


def test_the_figures_show_the_recorded_values(run_dir):
    kind, path = run_dir
    run = load_run(path)
    grad = rows(path / "gradients.csv")
    n_layers = len(CONFIGS[kind][1])

    flow = figures.gradient_flow(run).panels[0]
    assert flow.logy and "log scale" in flow.ylabel
    final = flow.get("epoch 3, mean")
    expected = {
        int(r["layer"]): float(r["value"]) for r in grad if r["quantity"] == "grad_abs_mean" and r["epoch"] == "3"
    }
    np.testing.assert_array_equal(final.y, [expected[l] for l in range(1, n_layers + 1)])

    noise = figures.gradient_noise(run)
    assert noise.panel("Norm test").hlines[0][0] == 1.0

    sharp = figures.hessian_eigenvalue(run).panels[0]
    lr = run.config["optimizer"]["learning_rate"]
    np.testing.assert_allclose(sharp.get("2/η (gradient-descent stability bound)").y, 2 / lr)
    eig = [float(r["value"]) for r in rows(path / "curvature.csv") if r["quantity"] == "hessian_max_eig"]
    np.testing.assert_array_equal(sharp.get("λ_max (largest Hessian eigenvalue)").y, eig)

    ridges = figures.histogram_ridges(run)
    assert len(ridges.panels) == 3 * n_layers
    first = ridges.panel(f"{run.layer_label(1)}: weights")
    assert len(first.series) == 4  # epochs 0-3, one row each
    assert ridges.panel(f"{run.layer_label(1)}: probe gradients").symlog_x is not None


def test_histogram_counts_add_up_to_the_numbers_counted(run_dir):
    kind, path = run_dir
    hist = load_run(path).histograms()
    from nnlab.io import load_npz

    initial = load_npz(path / "weights-initial.npz")
    for l in range(1, len(CONFIGS[kind][1]) + 1):
        counts = hist["counts"][("weights", l)]
        assert counts.shape[0] == 4 and (counts.sum(axis=1) == initial[f"W{l}"].size).all()
        edges = hist["edges"][("weights", l)]
        largest = np.abs(initial[f"W{l}"]).max()
        if largest > 0:
            assert edges[-1] == pytest.approx(4 * largest)
        else:  # R6's output layer starts at 0: its bins are chosen at epoch 1, where it has grown
            assert 0 < edges[-1] < 1
        first = np.histogram(initial[f"W{l}"], bins=edges)[0]
        np.testing.assert_array_equal(counts[0], first)  # at initialization nothing is beyond the range
