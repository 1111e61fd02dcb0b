"""Per-example gradient statistics against brute force: one backward pass per example (float64)."""

import numpy as np
import pytest
from helpers import build_net
from test_conv import small_conv_net

from nnlab.instruments.persample import per_sample_moments, per_sample_stats
from nnlab.network import one_hot


def brute_force(net, X, Y):
    """Per layer: the (n, p) matrix of each example's gradient of W then b (backward on one example at a time)."""
    per_layer = [[] for _ in net.learning_layers]
    for x, y in zip(X, Y):
        net.forward(x[None])
        net.backward(y[None])
        for rows, layer in zip(per_layer, net.learning_layers):
            rows.append(np.concatenate([layer.gW.ravel(), layer.gb.ravel()]))
    return [np.array(rows) for rows in per_layer]


def expected(G, batch_size):
    mean, var = G.mean(axis=0), G.var(axis=0, ddof=1)
    keep = var > 1e-12 * (G * G).mean(axis=0)
    return np.mean(mean[keep] ** 2 / var[keep]), var.sum() / (batch_size * mean @ mean)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_moments_and_statistics_match_per_example_gradients(kind):
    rng = np.random.default_rng(3)
    if kind == "dense":
        net = build_net([6, 5, 4, 3], ["tanh", "relu", "softmax"], "log_likelihood")
        X = rng.standard_normal((23, 6))
    else:
        net = small_conv_net(activation="tanh")
        X = rng.standard_normal((23, 64))
    Y = one_hot(rng.integers(0, 3, 23), 3, np.float64)
    net.eval_rows = 7  # chunks of 7, 7, 7, 2 examples
    per_example = brute_force(net, X, Y)
    moments = per_sample_moments(net, X, Y)
    stats = per_sample_stats(net, X, Y, batch_size=10)
    for l, (G, m) in enumerate(zip(per_example, moments)):
        np.testing.assert_allclose(np.concatenate([m.W.ravel(), m.b]), G.sum(axis=0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.concatenate([m.W2.ravel(), m.b2]), (G * G).sum(axis=0), rtol=1e-10, atol=1e-12)
        snr, norm_test = expected(G, 10)
        assert stats["grad_snr"][l] == pytest.approx(snr, rel=1e-8)
        assert stats["norm_test"][l] == pytest.approx(norm_test, rel=1e-8)


def test_a_parameter_with_the_same_gradient_on_every_example_is_left_out_of_the_snr():
    # input 0 is always 0: the first layer's weights from it have zero gradient on every example
    rng = np.random.default_rng(4)
    net = build_net([3, 4, 2], ["sigmoid", "softmax"], "log_likelihood")
    X = rng.standard_normal((12, 3))
    X[:, 0] = 0.0
    Y = one_hot(rng.integers(0, 2, 12), 2, np.float64)
    G = brute_force(net, X, Y)[0]
    assert (G[:, :4] == 0).all()  # W[0, :]
    snr = per_sample_stats(net, X, Y, batch_size=1)["grad_snr"][0]
    assert np.isfinite(snr)
    assert snr == pytest.approx(np.mean(G[:, 4:].mean(0) ** 2 / G[:, 4:].var(0, ddof=1)), rel=1e-8)


def test_identical_examples_have_no_noise():
    net = build_net([3, 4, 2], ["sigmoid", "softmax"], "log_likelihood")
    X = np.tile(np.array([[0.3, -1.0, 2.0]]), (5, 1))
    Y = one_hot(np.array([1] * 5), 2, np.float64)
    stats = per_sample_stats(net, X, Y, batch_size=10)
    assert stats["norm_test"] == pytest.approx([0.0, 0.0], abs=1e-12)
