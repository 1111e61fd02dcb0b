"""Convolution, max-pooling and flatten: hand-worked examples, the textbook formulas, finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from nnlab.activations import make_activation
from nnlab.costs import make_cost
from nnlab.layers import Conv2D, Dense, Flatten, MaxPool2D
from nnlab.network import Network, one_hot


def image(rows) -> np.ndarray:
    """A one-channel image as a batch of one: (1, H, W, 1)."""
    return np.array(rows, dtype=np.float64)[None, :, :, None]


def conv(kernel_rows, bias=0.0, activation="identity") -> Conv2D:
    W = np.array(kernel_rows, dtype=np.float64)[:, :, None, None]  # (k, k, 1, 1)
    return Conv2D(W, np.array([bias]), make_activation(activation))


# -- hand-worked, one channel ------------------------------------------------------

X3 = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_conv_forward_by_hand():
    layer = conv([[1, 2], [3, 4]], bias=1.0)
    z = layer.forward(image(X3))[0, :, :, 0]
    # z[0,0] = 1·1 + 2·2 + 4·3 + 5·4 + 1 = 38, and so on along the valid positions
    np.testing.assert_array_equal(z, [[38, 48], [68, 78]])


def test_conv_backward_of_one_position_by_hand():
    layer = conv([[1, 2], [3, 4]])
    layer.forward(image(X3))
    dx = layer.backward(image([[1, 0], [0, 0]]))
    np.testing.assert_array_equal(layer.gW[:, :, 0, 0], [[1, 2], [4, 5]])  # the patch that position saw
    np.testing.assert_array_equal(layer.gb, [1])
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])  # the kernel, placed there


def test_conv_backward_of_every_position_by_hand():
    layer = conv([[1, 2], [3, 4]])
    layer.forward(image(X3))
    dx = layer.backward(np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(layer.gW[:, :, 0, 0], [[12, 16], [24, 28]])  # sums of the four patches
    np.testing.assert_array_equal(layer.gb, [4])
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]])


X4 = [[1, 5, 2, 0], [3, 2, 8, 1], [0, 0, 4, 4], [9, 1, 3, 7]]


def test_maxpool_forward_and_backward_by_hand():
    pool = MaxPool2D(2)
    y = pool.forward(image(X4))
    np.testing.assert_array_equal(y[0, :, :, 0], [[5, 8], [9, 7]])
    dx = pool.backward(image([[1, 2], [3, 4]]))
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[3, 0], expected[3, 3] = 1, 2, 3, 4  # at each window's maximum
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_maxpool_sends_a_tie_to_the_first_maximum_only():
    pool = MaxPool2D(2)
    pool.forward(image([[4, 4], [1, 4]]))
    dx = pool.backward(image([[1.0]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0], [0, 0]])


def test_flatten_round_trip():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    f = Flatten()
    y = f.forward(x)
    assert y.shape == (2, 60) and f.output_shape((3, 4, 5)) == (60,)
    np.testing.assert_array_equal(f.backward(y), x)


# -- against the textbook definitions, many channels -----------------------------------


def direct_conv(x, W, b):
    """z[x,i,j,f] = Σ_{p,q,c} x[x,i+p,j+q,c] W[p,q,c,f] + b[f], as loops."""
    m, H, Wd, C = x.shape
    k, F = W.shape[0], W.shape[3]
    z = np.zeros((m, H - k + 1, Wd - k + 1, F))
    for i in range(H - k + 1):
        for j in range(Wd - k + 1):
            z[:, i, j, :] = np.einsum("mpqc,pqcf->mf", x[:, i : i + k, j : j + k, :], W) + b
    return z


def full_conv_flipped(delta, W):
    """∂C/∂x as the textbook writes it: δ zero-padded by k-1, convolved with the kernel flipped in both axes."""
    k = W.shape[0]
    padded = np.pad(delta, ((0, 0), (k - 1, k - 1), (k - 1, k - 1), (0, 0)))
    flipped = W[::-1, ::-1].transpose(0, 1, 3, 2)  # (k, k, F, C): δ's channels in, x's channels out
    return direct_conv(padded, flipped, 0.0)


@pytest.fixture
def conv_case():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 3))
    W = rng.standard_normal((3, 3, 3, 4))
    b = rng.standard_normal(4)
    return x, W, b, rng


def test_conv_forward_is_the_sum_over_patches(conv_case):
    x, W, b, _ = conv_case
    layer = Conv2D(W.copy(), b.copy(), make_activation("identity"))
    np.testing.assert_allclose(layer.forward(x), direct_conv(x, W, b), rtol=1e-12, atol=1e-12)


def test_conv_input_gradient_is_the_full_convolution_with_the_flipped_kernel(conv_case):
    x, W, b, rng = conv_case
    layer = Conv2D(W.copy(), b.copy(), make_activation("identity"))
    layer.forward(x)
    delta = rng.standard_normal((2, 5, 4, 4))
    np.testing.assert_allclose(layer.backward(delta), full_conv_flipped(delta, W), rtol=1e-12, atol=1e-12)


# -- finite differences (float64, relative error < 1e-6) -------------------------------


def check_layer_gradients(layer, x, rng):
    """C = Σ y ⊙ R for a fixed random R, so ∂C/∂y = R: compare backward(R) and the parameter
    gradients with central differences of C."""
    y = layer.forward(x)
    R = rng.standard_normal(y.shape)
    C = lambda: float((layer.forward(x) * R).sum())  # noqa: E731
    dx = layer.backward(R)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    assert rel_error(dx, numerical_grad(C, x)) < 1e-6
    for name, p in layer.params.items():
        assert rel_error(analytic[name], numerical_grad(C, p)) < 1e-6, name


def test_conv2d_gradients_match_finite_differences(conv_case):
    x, W, b, rng = conv_case
    check_layer_gradients(Conv2D(W, b, make_activation("tanh")), x, rng)


def test_maxpool2d_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 4, 3))  # distinct values: no ties for h to cross
    check_layer_gradients(MaxPool2D(2), x, rng)


def test_flatten_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    check_layer_gradients(Flatten(), rng.standard_normal((2, 3, 2, 2)), rng)


def small_conv_net(seed=0, l2=0.0, fast=True, dtype=np.float64, activation="sigmoid") -> Network:
    """8x8x1 -> conv 3x3, 2 maps -> pool 2 -> conv 2x2, 3 maps -> flatten -> dense 5 -> softmax 3."""
    rng = np.random.default_rng(seed)
    f = lambda *shape: (rng.standard_normal(shape) * 0.7).astype(dtype)  # noqa: E731
    layers = [
        Conv2D(f(3, 3, 1, 2), f(2), make_activation(activation)),
        MaxPool2D(2),
        Conv2D(f(2, 2, 2, 3), f(3), make_activation(activation)),
        Flatten(),
        Dense(f(12, 5), f(5), make_activation(activation)),
        Dense(f(5, 3), f(3), make_activation("softmax")),
    ]
    return Network(layers, make_cost("log_likelihood"), l2=l2, input_shape=(8, 8, 1), fast=fast)


def test_whole_conv_net_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    net = small_conv_net(l2=0.05)
    X = rng.standard_normal((4, 64))  # flat rows are read as (8, 8, 1) images
    Y = one_hot(np.array([0, 2, 1, 2]), 3, np.float64)
    net.forward(X)
    analytic = {k: g.copy() for k, g in net.backward(Y).items()}

    def cost():
        a = net.forward(X)
        return float(net.cost.fn(net.layers[-1].z, a, Y).mean()) + net.l2_penalty()

    assert list(analytic) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    for name, p in net.params.items():
        assert rel_error(analytic[name], numerical_grad(cost, p)) < 1e-6, name


def test_conv_net_layers_are_numbered_and_labelled_by_kind():
    net = small_conv_net()
    assert [layer.label for layer in net.layers] == ["conv1", "pool1", "conv2", "flatten", "dense3", "output"]
    assert [layer.number for layer in net.learning_layers] == [1, 2, 3, 4]
    assert net.shapes == [(8, 8, 1), (6, 6, 2), (3, 3, 2), (2, 2, 3), (12,), (5,), (3,)]


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [Conv2D(np.zeros((5, 5, 1, 2)), np.zeros(2), make_activation("relu"))],
            "a 5x5 kernel does not fit the 3x3 map it gets",
        ),
        ([MaxPool2D(2)], "2x2 pooling does not tile the 3x3 map it gets"),
        ([Dense(np.zeros((9, 3)), np.zeros(3), make_activation("sigmoid"))], "cannot take inputs of shape (3, 3, 1)"),
    ],
)
def test_shapes_that_do_not_fit_are_refused(layers, message):
    out = Dense(np.zeros((2, 3)), np.zeros(3), make_activation("sigmoid"))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Network([*layers, out], make_cost("cross_entropy"), input_shape=(3, 3, 1))
