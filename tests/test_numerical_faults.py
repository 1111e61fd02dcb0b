"""Numerical faults: overflow in exp/log handled in every activation and cost (no warning,
no silent NaN), divergence detected and reported, gradient clipping preventing it.

``strict_fp`` (tests/helpers.py) turns every warning into an error and makes NumPy raise
on overflow, invalid operations and division by zero; underflow stays allowed
(exp(-1000) rounding to 0 is the correctly rounded result, not a fault).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import strict_fp
from same_results import meta, metrics_without_seconds

from nnlab.activations import ACTIVATIONS, make_activation
from nnlab.costs import COSTS, make_cost

ROOT = Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]
HUGE = [1000.0, 1e30]  # |z|: beyond exp's range in both dtypes; 1e30 also beyond z² and z³ in float32
ELEMENTWISE = [n for n in ACTIVATIONS.names() if n != "softmax"]
BOUNDED_OUTPUTS = {"sigmoid", "tanh", "softmax"}  # a stays in [-1, 1]: every cost is finite at any z


def activation(name: str, dtype, n_units: int):
    act = make_activation(name)
    extra = act.init_params(n_units, np.dtype(dtype))
    if "alpha" in extra:
        extra["alpha"][...] = 0.25
    return act


def huge_z(big: float, dtype) -> np.ndarray:
    """Rows of ±big mixed with ordinary values: shape (4, 4)."""
    z = np.array([[big, -big, 0.5, -0.5], [-big, -big, -big, -big], [big, big, big, big], [big, 0.0, -big, 1.0]])
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("big", HUGE, ids=["1e3", "1e30"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_and_derivative_are_finite_and_silent_at_huge_z(name, big, dtype):
    act = activation(name, dtype, 4)
    z = huge_z(big, dtype)
    with strict_fp():
        a = act.f(z)
        d = act.df(z, a)
        delta = act.backprop(z, a, np.ones_like(z))
    for out in (a, d, delta):
        assert out.dtype == dtype and np.isfinite(out).all(), (name, out)
    assert np.abs(d).max() <= 1.2  # every slope is bounded: no blow-up hidden in a finite number


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("big", HUGE, ids=["1e3", "1e30"])
def test_softmax_is_a_distribution_at_huge_logits(big, dtype):
    z = huge_z(big, dtype)
    with strict_fp():
        a = make_activation("softmax").f(z)
    assert a.dtype == dtype and np.isfinite(a).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=4 * np.finfo(dtype).eps)


def cost_cases():
    for cost in COSTS.names():
        outputs = make_cost(cost).outputs or tuple(ACTIVATIONS.names())
        for out in outputs:
            if out != "prelu":  # not allowed as an output (learned parameters)
                yield cost, out


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("big", HUGE, ids=["1e3", "1e30"])
@pytest.mark.parametrize("cost_name, out_name", list(cost_cases()))
def test_cost_and_output_delta_at_huge_logits(cost_name, out_name, big, dtype):
    """Finite and silent wherever the true value fits the dtype; never NaN.

    Only the quadratic cost on an unbounded output at z = 1e30 has a true value
    beyond float32's range (½ z² ≈ 5e59): there it may be inf, not NaN.
    """
    out = activation(out_name, dtype, 4)
    cost = make_cost(cost_name)
    z = huge_z(big, dtype)
    Y = np.eye(4, dtype=dtype)
    representable = out_name in BOUNDED_OUTPUTS or 0.5 * big**2 * 4 < float(np.finfo(dtype).max)
    if representable:
        with strict_fp():
            a = out.f(z)
            c = cost.fn(z, a, Y)
            d = cost.delta(z, a, Y, out)
        assert np.isfinite(c).all() and np.isfinite(d).all(), (c, d)
    else:
        with np.errstate(over="ignore"), strict_fp_except_overflow():
            a = out.f(z)
            c = cost.fn(z, a, Y)
            d = cost.delta(z, a, Y, out)
        assert not np.isnan(c).any() and not np.isnan(d).any()


def strict_fp_except_overflow():
    import contextlib
    import warnings

    @contextlib.contextmanager
    def cm():
        with np.errstate(over="ignore", invalid="raise", divide="raise", under="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            yield

    return cm()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_cross_entropy_is_exact_at_huge_logits(dtype):
    cost = make_cost("cross_entropy")
    z = np.array([[1e30, -1e30]], dtype=dtype)
    with strict_fp():
        right = cost.fn(z, make_activation("sigmoid").f(z), np.array([[1, 0]], dtype=dtype))
        wrong = cost.fn(z, make_activation("sigmoid").f(z), np.array([[0, 1]], dtype=dtype))
    assert right.tolist() == [0.0] and wrong.tolist() == [2e30 if dtype == np.float64 else float(np.float32(1e30) * 2)]


# -- divergence and clipping, end to end ----------------------------------------------


def nnlab_train(config: str, runs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "nnlab",
            "train",
            str(ROOT / "configs" / "faults" / config),
            "--runs-dir",
            str(runs),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_exploding_gradients_end_as_diverged_naming_epoch_and_layer(tmp_path):
    out = nnlab_train("exploding.yaml", tmp_path)
    assert out.returncode == 3
    assert out.stderr == (
        "error: diverged: training diverged in epoch 1 (step 11): loss is not finite; non-finite gradient first in W1\n"
    )  # one line: no RuntimeWarning, no traceback
    (run_dir,) = tmp_path.iterdir()
    m = meta(run_dir)
    assert m["status"] == "diverged" and m["error"].startswith("training diverged in epoch 1")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert [r["epoch"] for r in metrics_without_seconds(run_dir)] == ["0"]  # the history so far is kept
    assert (run_dir / "gradients.csv").read_text().count("delta_norm") == 5  # the untrained network's 5 layers
    assert not (run_dir / "weights.npz").exists()


def test_the_same_network_with_clip_norm_completes(tmp_path):
    out = nnlab_train("exploding-clipped.yaml", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    (run_dir,) = tmp_path.iterdir()
    assert meta(run_dir)["status"] == "completed"
    rows = metrics_without_seconds(run_dir)
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert all(np.isfinite(float(v)) for r in rows for k, v in r.items() if v)
    assert float(rows[-1]["validation_accuracy"]) > 0.3  # and it learns


def test_the_two_fault_configs_differ_only_in_clipping_and_name():
    from nnlab.config import config_to_dict, load_config

    a = config_to_dict(load_config(str(ROOT / "configs" / "faults" / "exploding.yaml")))
    b = config_to_dict(load_config(str(ROOT / "configs" / "faults" / "exploding-clipped.yaml")))
    assert a["regularization"]["clip_norm"] is None and b["regularization"]["clip_norm"] == 1.0
    for d in (a, b):
        d.pop("name")
        d["regularization"].pop("clip_norm")
    assert a == b
