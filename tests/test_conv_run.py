"""A conv net config trains end to end with its instruments, run directory and figures."""

from __future__ import annotations

import csv

from nnlab.config import load_config
from nnlab.experiment import run_experiment
from nnlab.plotting import figures
from nnlab.results import load_run

SMALL = [
    "data.dataset=mnist-mini",
    "data.train_size=200",
    "data.validation_size=100",
    "data.test_size=100",
    "instruments.probe_size=100",
    "training.epochs=2",
]


def test_a_shipped_conv_config_trains_with_labelled_instruments_and_figures(tmp_path):
    cfg = load_config("configs/conv/r6-conv2.yaml", SMALL)
    result = run_experiment(cfg, runs_dir=tmp_path, display="quiet")
    assert result.status == "completed", result.error
    with open(result.run_dir / "gradients.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = {(int(r["layer"]), r["label"]) for r in rows if r["quantity"] == "delta_norm"}
    assert labels == {(1, "conv1"), (2, "conv2"), (3, "dense3"), (4, "output")}
    assert {r["quantity"] for r in rows} >= {"delta_norm", "weight_grad_norm", "batch_grad_norm", "update_ratio"}
    with open(result.run_dir / "activations.csv", encoding="utf-8") as f:
        quantities = {(int(r["layer"]), r["quantity"]) for r in csv.DictReader(f)}
    assert (1, "saturated_fraction") in quantities and (2, "mean") in quantities  # conv layers measured too

    run = load_run(result.run_dir)
    assert run.architecture == "conv20x5-pool2-conv40x5-pool2-dense100-dense10"
    assert [run.layer_label(l) for l in (1, 2, 3, 4)] == [
        "conv layer 1",
        "conv layer 2",
        "hidden layer 3",
        "output layer",
    ]
    spec = figures.speed_of_learning(run)
    assert [s.label for s in spec.panels[0].series] == ["conv layer 1", "conv layer 2", "hidden layer 3"]
    # the output layer starts at zero (network3's protocol), so every hidden δ is exactly 0 at epoch 0
    assert all(s.y[0] == 0 and s.y[-1] > 0 for s in spec.panels[0].series)
