"""Backpropagation against central differences of the whole network's cost, in float64.

Every gradient the network returns (W, b, PReLU's alpha) is compared with
(C(θ+h) - C(θ-h)) / 2h of ``Network.loss`` (mean cost + L2 penalty); the
relative error ‖g - ĝ‖ / (‖g‖ + ‖ĝ‖) must stay below 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_net, numerical_grad, rel_error

from nnlab.activations import ACTIVATIONS
from nnlab.network import Network, one_hot

H = 1e-5
TOL = 1e-6
ELEMENTWISE = [name for name in ACTIVATIONS.names() if name != "softmax"]
KINKED = {"relu", "leaky_relu", "prelu"}
# an activation with learned parameters (PReLU) is hidden-only: Network rejects it as output
OUTPUTS = [name for name in ACTIVATIONS.names() if not ACTIVATIONS.get(name)().init_params(1, np.float64)]


def data(n_in: int, n_out: int, m: int = 7, seed: int = 11):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    Y = one_hot(rng.integers(0, n_out, m), n_out, np.float64)
    return X, Y


def assert_grads_match(net: Network, X: np.ndarray, Y: np.ndarray, h: float = H) -> None:
    """Analytic gradients of every parameter vs finite differences of ``net.loss``."""
    _, analytic = net.loss_and_grads(X, Y)
    _compare(net, analytic, lambda: net.loss(X, Y), h)


def _compare(net: Network, analytic: dict, loss, h: float = H) -> None:
    assert set(analytic) == set(net.params)
    for k, p in net.params.items():
        numeric = numerical_grad(loss, p, h=h)
        assert analytic[k].shape == p.shape
        err = rel_error(analytic[k], numeric)
        assert err < TOL, f"{k}: relative error {err:.2e}\nanalytic {analytic[k]}\nnumeric {numeric}"


def assert_clear_of_kinks(net: Network, X: np.ndarray) -> None:
    """A finite difference across z = 0 of a ReLU-like unit measures nothing: make sure none is near."""
    net.forward(X)
    for layer in net.layers:
        if layer.activation.name in KINKED:
            assert np.abs(layer.z).min() > 100 * H


@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_hidden_activation_grads_match_finite_differences(hidden):
    net = build_net([4, 5, 3], [hidden, "sigmoid"], "cross_entropy", seed=1)
    X, Y = data(4, 3)
    assert_clear_of_kinks(net, X)
    assert_grads_match(net, X, Y)


@pytest.mark.parametrize(
    "cost, out, reduction",
    [
        ("cross_entropy", "sigmoid", "sum"),
        ("cross_entropy", "sigmoid", "mean"),
        ("log_likelihood", "softmax", "sum"),
    ]
    + [("quadratic", out, red) for out in OUTPUTS for red in ("sum", "mean")],
)
def test_output_and_cost_grads_match_finite_differences(cost, out, reduction):
    net = build_net([4, 5, 3], ["tanh", out], cost, reduction=reduction, seed=2)
    X, Y = data(4, 3)
    assert_clear_of_kinks(net, X)
    assert_grads_match(net, X, Y)


@pytest.mark.parametrize("out", sorted(set(ACTIVATIONS.names()) - set(OUTPUTS)))
def test_output_activation_with_learned_parameters_is_rejected(out):
    # its slopes would silently get a zero gradient (backward starts from the cost's δ^L)
    with pytest.raises(ValueError, match="learned parameters"):
        build_net([4, 5, 3], ["tanh", out], "quadratic")


def test_softmax_grad_matches_finite_differences():
    net = build_net([4, 6, 5], ["sigmoid", "softmax"], "log_likelihood", seed=3)
    X, Y = data(4, 5)
    assert_grads_match(net, X, Y)


def test_l2_grads_match_finite_differences():
    net = build_net([4, 5, 5, 3], ["tanh", "prelu", "sigmoid"], "cross_entropy", seed=4, l2=0.3)
    X, Y = data(4, 3)
    assert_clear_of_kinks(net, X)
    assert_grads_match(net, X, Y)
    # the penalty reaches weights only: (λ/n) W is the whole difference from l2 = 0
    _, with_l2 = net.loss_and_grads(X, Y)
    net.l2 = 0.0
    _, without = net.loss_and_grads(X, Y)
    for k in with_l2:
        expected = 0.3 * net.params[k] if k.startswith("W") else 0.0
        np.testing.assert_allclose(with_l2[k] - without[k], expected, atol=1e-14, err_msg=k)


def test_prelu_slope_grads_match_finite_differences():
    net = build_net([4, 6, 6, 3], ["prelu", "prelu", "sigmoid"], "cross_entropy", seed=5)
    X, Y = data(4, 3, m=12)
    assert_clear_of_kinks(net, X)
    _, grads = net.loss_and_grads(X, Y)
    assert {"alpha1", "alpha2"} <= set(grads)
    assert np.abs(grads["alpha1"]).max() > 1e-3  # a real signal, not a vacuous 0 == 0
    assert_grads_match(net, X, Y)


def test_dropout_grads_match_finite_differences_with_a_fixed_mask():
    net = build_net([4, 8, 8, 3], ["tanh", "swish", "sigmoid"], "cross_entropy", seed=6, dropout=[0.5, 0.3, 0.0])
    X, Y = data(4, 3)
    seed = 123

    def loss_with_mask() -> float:
        # the same Generator seed draws the same masks (layer 1, then layer 2)
        net.forward(X, train=True, rng=np.random.default_rng(seed))
        out = net.layers[-1]
        return float(net.cost.fn(out.z, out.a, Y).mean()) + net.l2_penalty()

    _, analytic = net.loss_and_grads(X, Y, rng=np.random.default_rng(seed))
    masks = [layer.mask for layer in net.layers[:2]]
    assert all(m is not None and (m == 0).any() and (m > 0).any() for m in masks)
    _, no_dropout = net.loss_and_grads(X, Y)
    assert rel_error(analytic["W1"], no_dropout["W1"]) > 1e-2  # the mask matters
    _compare(net, analytic, loss_with_mask)


def test_deep_mixed_network_grads_match_finite_differences():
    net = build_net(
        [6, 5, 5, 5, 5, 3],
        ["tanh", "prelu", "elu", "swish", "softmax"],
        "log_likelihood",
        seed=7,
        l2=0.05,
    )
    X, Y = data(6, 3, m=9)
    assert_clear_of_kinks(net, X)
    assert_grads_match(net, X, Y)


def test_deep_sigmoid_network_grads_match_finite_differences():
    net = build_net([6, 5, 5, 5, 5, 3], "sigmoid", "cross_entropy", seed=8)
    X, Y = data(6, 3, m=9)
    _, grads = net.loss_and_grads(X, Y)
    assert np.linalg.norm(grads["b1"]) > 1e-6  # vanishing, but not numerically zero
    # first-layer gradients are ~1e-5 here: a larger step keeps C's rounding / h small
    assert_grads_match(net, X, Y, h=1e-4)


def test_gradient_is_the_mean_over_the_batch():
    # duplicating every example leaves the mean cost, and so its gradient, unchanged
    net = build_net([4, 5, 3], ["tanh", "sigmoid"], seed=9, l2=0.1)
    X, Y = data(4, 3)
    loss1, g1 = net.loss_and_grads(X, Y)
    loss2, g2 = net.loss_and_grads(np.concatenate([X, X]), np.concatenate([Y, Y]))
    assert loss2 == pytest.approx(loss1, rel=1e-13)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-12, atol=1e-15)


def test_labels_and_one_hot_targets_give_the_same_gradients():
    net = build_net([4, 5, 3], ["relu", "softmax"], "log_likelihood", seed=10)
    X, Y = data(4, 3)
    loss_a, ga = net.loss_and_grads(X, Y)
    loss_b, gb = net.loss_and_grads(X, Y.argmax(axis=1))
    assert loss_a == loss_b
    for k in ga:
        np.testing.assert_array_equal(ga[k], gb[k])


def test_loss_and_grads_returns_copies():
    net = build_net([4, 5, 3], ["tanh", "sigmoid"], seed=12)
    X, Y = data(4, 3)
    _, g = net.loss_and_grads(X, Y)
    kept = {k: v.copy() for k, v in g.items()}
    net.loss_and_grads(X[:3], Y[:3])  # overwrites the network's gradient buffers
    for k in g:
        np.testing.assert_array_equal(g[k], kept[k])
