"""The new instruments in a run directory, with --resume: weights-initial.npz is the origin of the
distance rows; histograms.npz and curvature.csv continue where the checkpoint left them."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from same_results import assert_same_results
from test_resume import cfg_of, interrupted, resume

from nnlab.experiment import run_experiment
from nnlab.instruments.histograms import read_histograms
from nnlab.io import load_npz, save_npz

ALL = ["instruments.per_sample=true", "instruments.histograms=true", "instruments.hessian=true"]


def rows(path, quantity):
    with open(path, encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["quantity"] == quantity]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    runs = tmp_path_factory.mktemp("straight")
    result = run_experiment(cfg_of(*ALL, epochs=4), runs_dir=runs, display="quiet")
    assert result.status == "completed"
    return result.run_dir


def test_weights_initial_holds_the_parameters_the_run_started_from(straight):
    from nnlab.build import build_network
    from nnlab.config import load_config

    cfg = load_config(str(straight / "config.yaml"))
    net = build_network(cfg, np.random.default_rng(cfg.training.seed), n_train=300)
    initial = load_npz(straight / "weights-initial.npz")
    assert set(initial) == set(net.params)
    for k, p in net.params.items():
        np.testing.assert_array_equal(initial[k], p)
    final = load_npz(straight / "weights.npz")
    for r in rows(straight / "gradients.csv", "distance"):
        if r["epoch"] == "4":
            l = r["layer"]
            expected = np.linalg.norm(final[f"W{l}"].astype(np.float64) - initial[f"W{l}"].astype(np.float64))
            assert float(r["value"]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("at", [dict(epoch=2), dict(step=47)])
def test_a_resumed_run_with_every_instrument_equals_the_straight_one(tmp_path, straight, at):
    run_dir = interrupted(cfg_of(*ALL, epochs=4), tmp_path, **at)
    resume(run_dir)
    assert_same_results(run_dir, straight)  # gradients.csv (distance, SNR, norm test) bit for bit
    a, b = read_histograms(run_dir / "histograms.npz"), read_histograms(straight / "histograms.npz")
    np.testing.assert_array_equal(a["steps"], b["steps"])
    np.testing.assert_array_equal(a["epochs"], [0, 1, 2, 3, 4])
    assert a["edges"].keys() == b["edges"].keys()
    for key in a["edges"]:
        np.testing.assert_array_equal(a["edges"][key], b["edges"][key])
        np.testing.assert_array_equal(a["counts"][key], b["counts"][key])
    eig_a = [float(r["value"]) for r in rows(run_dir / "curvature.csv", "hessian_max_eig")]
    eig_b = [float(r["value"]) for r in rows(straight / "curvature.csv", "hessian_max_eig")]
    assert len(eig_a) == len(eig_b) == 5
    np.testing.assert_allclose(eig_a, eig_b, rtol=0.02)  # power iteration restarts from a new vector


def test_a_resumed_run_measures_distance_from_the_saved_initial_weights(tmp_path, straight):
    run_dir = interrupted(cfg_of(*ALL, epochs=4), tmp_path, epoch=2)
    initial = load_npz(run_dir / "weights-initial.npz")
    initial["W1"] = initial["W1"] + np.float32(1.0)  # an origin only the file knows
    save_npz(run_dir / "weights-initial.npz", initial)
    resume(run_dir)
    mine = {(r["epoch"], r["layer"]): float(r["value"]) for r in rows(run_dir / "gradients.csv", "distance")}
    ref = {(r["epoch"], r["layer"]): float(r["value"]) for r in rows(straight / "gradients.csv", "distance")}
    assert mine[("2", "1")] == ref[("2", "1")]  # written before the stop
    assert mine[("3", "1")] != pytest.approx(ref[("3", "1")], rel=0.01)
    assert mine[("3", "2")] == ref[("3", "2")]


def test_resume_refuses_initial_weights_that_do_not_fit(tmp_path):
    from nnlab.errors import UserError

    run_dir = interrupted(cfg_of(epochs=3), tmp_path, epoch=1)
    save_npz(run_dir / "weights-initial.npz", {"W1": np.zeros(3)})
    with pytest.raises(UserError, match=r"weights-initial.npz: does not fit the run's config.yaml"):
        run_experiment(None, resume=run_dir, display="quiet")
