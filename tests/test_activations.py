"""Activations: derivatives against finite differences, stability at huge |z|, dtypes, flags.

Every registered activation is checked automatically (parametrized over
``ACTIVATIONS.names()``); softmax has no elementwise derivative and is
checked as an output in test_costs.py / test_gradients.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numerical_grad, rel_error, strict_fp

from nnlab.activations import ACTIVATIONS, make_activation, sigmoid
from nnlab.errors import UserError

N_UNITS = 4
ELEMENTWISE = [name for name in ACTIVATIONS.names() if name != "softmax"]
# non-default hyperparameters, so a derivative that ignores them is caught
VARIANTS = [
    ("leaky_relu", {"slope": 0.2}),
    ("elu", {"alpha": 0.5}),
    ("swish", {"beta": 2.0}),
    ("swish", {"beta": 0.5}),
]


def make(name: str, dtype=np.float64, **params):
    """An activation ready to use on (m, N_UNITS) arrays (PReLU gets distinct slopes per unit)."""
    act = make_activation(name, **params)
    extra = act.init_params(N_UNITS, np.dtype(dtype))
    if "alpha" in extra:
        extra["alpha"][...] = np.array([0.1, 0.2, 0.3, 0.4], dtype=dtype)
    return act


def z_grid(dtype=np.float64) -> np.ndarray:
    """Negative, positive and near-0 points, none within 1e-3 of the kink at 0: shape (m, 4)."""
    z = np.concatenate([np.linspace(-6.0, 6.0, 48), [-0.01, -0.001, 0.001, 0.01]])
    assert np.abs(z).min() >= 1e-3
    return z.reshape(-1, N_UNITS).astype(dtype)


@pytest.mark.parametrize(
    "name, params",
    [(n, {}) for n in ELEMENTWISE] + VARIANTS,
    ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()) or "default",
)
def test_derivative_matches_finite_differences(name, params):
    act = make(name, **params)
    z = z_grid()
    h = 1e-5
    numeric = (act.f(z + h) - act.f(z - h)) / (2 * h)
    analytic = act.df(z, act.f(z))
    assert analytic.shape == z.shape
    # Elementwise relative error. Where the derivative is tiny (GELU at z = -6:
    # f' = -3.5e-8) the rounding of f itself (1 + erf(z/√2) cancels) divided by h
    # swamps any finite difference, so there the error is taken relative to 1e-2,
    # i.e. an absolute error below 1e-8 passes.
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-2)
    err = np.abs(analytic - numeric) / scale
    assert err.max() < 1e-6, f"{name}{params}: worst z={z.flat[err.argmax()]:g}, rel err {err.max():.2e}"


def test_prelu_alpha_grad_matches_finite_differences():
    act = make("prelu")
    z = z_grid()
    u = np.random.default_rng(3).standard_normal(z.shape)  # upstream ∂C/∂a
    analytic = act.param_grads(z, u)["alpha"]
    numeric = numerical_grad(lambda: float((u * act.f(z)).sum()), act.alpha)
    assert analytic.shape == (N_UNITS,)
    assert rel_error(analytic, numeric) < 1e-6


def test_prelu_slope_is_per_unit():
    act = make("prelu")  # slopes 0.1, 0.2, 0.3, 0.4
    a = act.f(-np.ones((1, N_UNITS)))
    np.testing.assert_array_equal(a, [[-0.1, -0.2, -0.3, -0.4]])


def test_known_values():
    z = np.array([[-2.0, -0.5, 0.5, 2.0]])
    np.testing.assert_allclose(make("sigmoid").f(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(make("softplus").f(z), np.log1p(np.exp(z)), rtol=1e-14)
    np.testing.assert_allclose(make("relu").f(z), [[0, 0, 0.5, 2.0]])
    np.testing.assert_allclose(make("leaky_relu").f(z), [[-0.02, -0.005, 0.5, 2.0]])
    np.testing.assert_allclose(make("elu").f(z), [[np.exp(-2) - 1, np.exp(-0.5) - 1, 0.5, 2.0]], rtol=1e-14)
    np.testing.assert_allclose(make("swish").f(z), z / (1 + np.exp(-z)), rtol=1e-14)
    # Φ(±2) = 0.97724986805182..., Φ(±0.5) = 0.69146246127401...
    phi = np.array([[1 - 0.9772498680518208, 1 - 0.6914624612740131, 0.6914624612740131, 0.9772498680518208]])
    np.testing.assert_allclose(make("gelu").f(z), z * phi, rtol=1e-12)
    u = np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)
    np.testing.assert_allclose(make("gelu_tanh").f(z), 0.5 * z * (1 + np.tanh(u)), rtol=1e-14)
    np.testing.assert_allclose(make("gelu_tanh").f(z), make("gelu").f(z), atol=1e-3)  # a close approximation
    np.testing.assert_array_equal(make("identity").f(z), z)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_within_a_few_ulps_of_the_logistic_function(dtype):
    z = np.linspace(-40, 40, 801)
    ref = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    a = sigmoid(z.astype(dtype))
    assert a.dtype == dtype
    np.testing.assert_allclose(a, ref, rtol=0, atol=4 * np.finfo(dtype).eps)
    assert (np.diff(a) >= 0).all()  # monotone


# -- numerical stability ---------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_finite_and_silent_at_huge_inputs(name, dtype):
    act = make(name, dtype)
    z = np.array([[-1e4, -1000.0, 1000.0, 1e4]], dtype=dtype)
    with strict_fp():
        a = act.f(z)
        assert np.isfinite(a).all()
        if name != "softmax":
            assert np.isfinite(act.df(z, a)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_values_are_exact(dtype):
    z = np.array([[-1e4, -1000.0, 1000.0, 1e4]], dtype=dtype)
    with strict_fp():
        np.testing.assert_array_equal(make("sigmoid").f(z), [[0, 0, 1, 1]])
        np.testing.assert_array_equal(make("sigmoid").df(z, make("sigmoid").f(z)), [[0, 0, 0, 0]])
        np.testing.assert_array_equal(make("softplus").f(z), [[0, 0, 1000, 1e4]])
        np.testing.assert_array_equal(make("softplus").df(z, None), [[0, 0, 1, 1]])
        np.testing.assert_array_equal(make("tanh").f(z), [[-1, -1, 1, 1]])
        np.testing.assert_array_equal(make("elu", alpha=0.5).f(z), [[-0.5, -0.5, 1000, 1e4]])
        for name in ("swish", "gelu", "gelu_tanh"):
            np.testing.assert_array_equal(make(name).f(z), [[0, 0, 1000, 1e4]], err_msg=name)
            np.testing.assert_array_equal(make(name).df(z, make(name).f(z)), [[0, 0, 1, 1]], err_msg=name)


def test_softmax_rows_are_distributions_even_at_huge_logits():
    sm = make("softmax")
    z = np.array([[1000.0, -1000.0, 0.0], [1e4, 1e4, -1e4], [1.0, 2.0, 3.0]])
    with strict_fp():
        a = sm.f(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(a[0], [1, 0, 0])
    np.testing.assert_array_equal(a[1], [0.5, 0.5, 0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(a[2], e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(sm.f(z[2:] + 500.0), a[2:], rtol=1e-12)  # shift invariance


def test_softmax_has_no_elementwise_derivative():
    sm = make("softmax")
    z = np.zeros((2, 3))
    with pytest.raises(TypeError):
        sm.df(z, sm.f(z))


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_float32_in_float32_out(name):
    act = make(name, np.float32)
    z = z_grid(np.float32)
    a = act.f(z)
    assert a.dtype == np.float32
    if name != "softmax":
        assert act.df(z, a).dtype == np.float32


# -- metadata the instruments rely on ----------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_rectifying_flag_means_zero_slope_for_negative_z(name):
    act = make(name)
    z = -np.linspace(0.1, 5.0, 20).reshape(-1, N_UNITS)
    zero_slope = bool((act.df(z, act.f(z)) == 0).all())
    assert act.rectifying == zero_slope


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_saturating_flag_means_vanishing_slope_at_both_tails(name):
    act = make(name)
    z = np.full((2, N_UNITS), 30.0)
    z[1] = -30.0
    vanishes = bool((np.abs(act.df(z, act.f(z))) < 1e-6).all())
    assert act.saturating == vanishes


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if ACTIVATIONS.get(n).saturating])
def test_max_slope_of_saturating_activations_is_the_peak_derivative(name):
    act = make(name)
    z = np.linspace(-10, 10, 20_001).reshape(-1, 1).repeat(N_UNITS, axis=1)
    peak = np.abs(act.df(z, act.f(z))).max()
    assert peak == pytest.approx(act.max_slope, rel=1e-6)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(UserError) as err:
        make_activation("sigmoidd")
    assert "sigmoidd" in str(err.value)
    for name in ACTIVATIONS.names():
        assert name in str(err.value)
