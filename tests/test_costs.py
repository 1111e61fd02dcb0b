"""Costs: values against the textbook formulas, δ^L = ∂C_x/∂z^L against finite differences,
reductions, and stability at huge logits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numerical_grad, rel_error, strict_fp

from nnlab.activations import ACTIVATIONS, make_activation
from nnlab.costs import COSTS, make_cost
from nnlab.errors import UserError
from nnlab.network import one_hot

M, N_OUT = 5, 4


def output(name: str, dtype=np.float64):
    act = make_activation(name)
    extra = act.init_params(N_OUT, np.dtype(dtype))
    if "alpha" in extra:
        extra["alpha"][...] = [0.1, 0.2, 0.3, 0.4]
    return act


@pytest.fixture
def zY():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((M, N_OUT)) * 2.0
    z[np.abs(z) < 1e-3] = 0.5  # keep clear of the ReLU-family kink at 0
    Y = one_hot(rng.integers(0, N_OUT, M), N_OUT, np.float64)
    return z, Y


def check_delta(cost_name: str, out_name: str, reduction: str, z, Y) -> None:
    """δ from the cost vs central differences of Σ_x C_x w.r.t. z (each row is one example)."""
    cost, act = make_cost(cost_name, reduction), output(out_name)
    analytic = cost.delta(z, act.f(z), Y, act)
    zz = z.copy()
    numeric = numerical_grad(lambda: float(cost.fn(zz, act.f(zz), Y).sum()), zz, h=1e-6)
    assert analytic.shape == z.shape
    assert rel_error(analytic, numeric) < 1e-6, (cost_name, out_name, reduction)


# -- values ----------------------------------------------------------------


def test_cross_entropy_equals_textbook_formula(zY):
    z, Y = zY
    a = 1 / (1 + np.exp(-z))
    expected = -(Y * np.log(a) + (1 - Y) * np.log(1 - a)).sum(axis=1)
    np.testing.assert_allclose(make_cost("cross_entropy").fn(z, a, Y), expected, rtol=1e-12)
    np.testing.assert_allclose(make_cost("cross_entropy", "mean").fn(z, a, Y), expected / N_OUT, rtol=1e-12)


def test_log_likelihood_is_minus_log_of_true_class_probability(zY):
    z, Y = zY
    a = output("softmax").f(z)
    expected = -np.log(a[Y == 1])
    np.testing.assert_allclose(make_cost("log_likelihood").fn(z, a, Y), expected, rtol=1e-12)
    # one term per example: the reduction cannot change it
    np.testing.assert_allclose(make_cost("log_likelihood", "mean").fn(z, a, Y), expected, rtol=1e-12)


@pytest.mark.parametrize("out_name", ["sigmoid", "identity", "softmax"])
def test_quadratic_is_half_squared_distance(zY, out_name):
    z, Y = zY
    a = output(out_name).f(z)
    expected = 0.5 * ((a - Y) ** 2).sum(axis=1)
    np.testing.assert_allclose(make_cost("quadratic").fn(z, a, Y), expected, rtol=1e-14)
    np.testing.assert_allclose(make_cost("quadratic", "mean").fn(z, a, Y), expected / N_OUT, rtol=1e-14)


def test_hand_worked_cross_entropy():
    # z = 0 → a = ½ for both units; y = (1, 0): C = -ln ½ - ln(1-½) = 2 ln 2
    z, Y = np.zeros((1, 2)), np.array([[1.0, 0.0]])
    cost = make_cost("cross_entropy")
    assert cost.fn(z, np.full((1, 2), 0.5), Y)[0] == pytest.approx(2 * np.log(2), rel=1e-15)
    # δ = a - y = (-½, ½); mean over 2 outputs halves it
    np.testing.assert_allclose(cost.delta(z, np.full((1, 2), 0.5), Y, output("sigmoid")), [[-0.5, 0.5]])
    mean = make_cost("cross_entropy", "mean")
    np.testing.assert_allclose(mean.delta(z, np.full((1, 2), 0.5), Y, output("sigmoid")), [[-0.25, 0.25]])


# -- δ^L against finite differences ----------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_sigmoid_delta_matches_finite_differences(zY, reduction):
    check_delta("cross_entropy", "sigmoid", reduction, *zY)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_log_likelihood_grad_matches_finite_differences(zY, reduction):
    check_delta("log_likelihood", "softmax", reduction, *zY)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_quadratic_grad_matches_finite_differences(zY, reduction):
    # the softmax Jacobian is not diagonal: a wrong δ formula shows up here
    check_delta("quadratic", "softmax", reduction, *zY)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("out_name", ACTIVATIONS.names())
def test_quadratic_delta_matches_finite_differences_for_every_output(zY, out_name, reduction):
    check_delta("quadratic", out_name, reduction, *zY)


def test_cross_entropy_delta_is_a_minus_y_with_soft_targets():
    rng = np.random.default_rng(1)
    z, Y = rng.standard_normal((M, N_OUT)), rng.uniform(0, 1, (M, N_OUT))
    check_delta("cross_entropy", "sigmoid", "sum", z, Y)


# -- stability ---------------------------------------------------------------


@pytest.mark.parametrize("big", [1000.0, 1e4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_finite_and_exact_at_huge_logits(big, dtype):
    cost, act = make_cost("cross_entropy"), output("sigmoid")
    z = np.array([[big, -big], [big, -big]], dtype=dtype)
    Y = np.array([[1, 0], [0, 1]], dtype=dtype)  # row 0 right, row 1 confidently wrong
    with strict_fp():
        a = act.f(z)
        c = cost.fn(z, a, Y)
        d = cost.delta(z, a, Y, act)
    # C = Σ softplus(z) - y z: right → 0; wrong → 2·big (not inf: log(0) is never taken)
    np.testing.assert_array_equal(c, [0, 2 * big])
    np.testing.assert_array_equal(d, [[0, 0], [1, -1]])


@pytest.mark.parametrize("big", [1000.0, 1e4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_likelihood_finite_and_exact_at_huge_logits(big, dtype):
    cost, act = make_cost("log_likelihood"), output("softmax")
    z = np.array([[big, -big, 0], [big, -big, 0], [-big, -big, -big]], dtype=dtype)
    Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=dtype)
    with strict_fp():
        a = act.f(z)
        c = cost.fn(z, a, Y)
        d = cost.delta(z, a, Y, act)
    # -ln a_y = logsumexp(z) - z_y: 0, 2·big, ln 3 (to the rounding of a number of size big)
    np.testing.assert_allclose(c, [0, 2 * big, np.log(3)], rtol=1e-6, atol=4 * np.finfo(dtype).eps * big)
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d[1], [1, -1, 0])


def test_quadratic_finite_at_huge_logits():
    z = np.array([[1000.0, -1e4]])
    Y = np.array([[1.0, 0.0]])
    with strict_fp():
        for name in ("sigmoid", "tanh", "softmax", "softplus"):
            act = output(name)
            cost = make_cost("quadratic")
            assert np.isfinite(cost.fn(z, act.f(z), Y)).all()
            assert np.isfinite(cost.delta(z, act.f(z), Y, act)).all()


# -- construction --------------------------------------------------------------


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        make_cost("quadratic", reduction="avg")


def test_unknown_cost_lists_valid_names():
    with pytest.raises(UserError) as err:
        make_cost("hinge")
    for name in COSTS.names():
        assert name in str(err.value)


def test_costs_declare_their_outputs():
    assert make_cost("cross_entropy").outputs == ("sigmoid",)
    assert make_cost("log_likelihood").outputs == ("softmax",)
    assert make_cost("quadratic").outputs is None
