"""The Hessian's largest eigenvalue by power iteration against the eigenvalues of a full Hessian
built column by column from finite differences of gradients (float64)."""

import numpy as np
import pytest
from helpers import build_net
from test_conv import small_conv_net

from nnlab.instruments.hessian import FlatView, largest_eigenvalue, top_eigenvalue
from nnlab.network import one_hot


def full_hessian(view: FlatView, h: float = 1e-5) -> np.ndarray:
    theta = view.get()
    n = len(theta)
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        view.set(theta + e)
        g1 = view.grad()
        view.set(theta - e)
        g2 = view.grad()
        H[:, i] = (g1 - g2) / (2 * h)
    view.set(theta)
    return (H + H.T) / 2


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_power_iteration_finds_the_largest_eigenvalue(kind):
    rng = np.random.default_rng(0)
    if kind == "dense":
        net = build_net([3, 4, 3], ["tanh", "softmax"], "log_likelihood", l2=0.01)
        X = rng.standard_normal((20, 3))
    else:
        net = small_conv_net(l2=0.01)
        X = rng.standard_normal((6, 64))
    Y = one_hot(rng.integers(0, 3, len(X)), 3, np.float64)
    view = FlatView(net, X, Y)
    before = view.get()
    eig = np.linalg.eigvalsh(full_hessian(view))
    top = eig[np.argmax(np.abs(eig))]
    lam, v, its = largest_eigenvalue(view, rng.standard_normal(len(before)), iterations=2000, tol=1e-10)
    assert lam == pytest.approx(top, rel=1e-5)
    assert its < 2000
    H_v = view.hvp(view.get(), v)
    np.testing.assert_allclose(H_v, lam * v, atol=1e-4 * abs(lam))  # v is its eigenvector
    np.testing.assert_array_equal(view.get(), before)  # the parameters are put back exactly


def test_a_quadratic_cost_has_the_hessian_of_its_linear_model():
    # one identity output layer with the quadratic cost: C = (1/2m) Σ ||x W + b - y||², H = (1/m) [x 1]^T [x 1] per output
    from nnlab.activations import make_activation
    from nnlab.costs import make_cost
    from nnlab.layers import Dense
    from nnlab.network import Network

    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 2))
    net = Network(
        [Dense(rng.standard_normal((2, 2)), np.zeros(2), make_activation("identity"))], make_cost("quadratic")
    )
    A = np.hstack([X, np.ones((9, 1))])
    expected = np.linalg.eigvalsh(A.T @ A / 9).max()
    Y = one_hot(rng.integers(0, 2, 9), 2, np.float64)
    lam, _, _ = largest_eigenvalue(FlatView(net, X, Y), rng.standard_normal(6), iterations=500, tol=1e-12)
    assert lam == pytest.approx(expected, rel=1e-6)


class Quadratic:
    """A stand-in for FlatView whose Hessian is the matrix ``H`` (C = θ^T H θ / 2)."""

    def __init__(self, H):
        self.H, self.theta = H, np.zeros(len(H))

    def get(self):
        return self.theta.copy()

    def hvp(self, theta, v):
        return self.H @ v


@pytest.mark.parametrize(("diagonal", "top"), [([-5.0, 1.0, 2.0], 2.0), ([3.0, -1.0, 0.5], 3.0), ([-2.0, -1.0], -1.0)])
def test_the_top_eigenvalue_is_found_when_a_negative_one_is_larger_in_magnitude(diagonal, top):
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((len(diagonal), len(diagonal))))
    H = Q @ np.diag(diagonal) @ Q.T
    lam, v, _ = top_eigenvalue(Quadratic(H), rng.standard_normal(len(diagonal)), iterations=500)
    assert lam == pytest.approx(top, rel=1e-2)
