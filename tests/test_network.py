"""Network: parameter names and shapes, live parameter arrays, forward pass, save/load,
evaluate/predict, Nielsen's L2 convention by hand, dtypes, dropout."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import build_net

from nnlab.activations import make_activation
from nnlab.costs import make_cost
from nnlab.network import Dense, Network, one_hot
from nnlab.optimizers import apply_updates, make_optimizer
from nnlab.training import train


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.fixture
def Xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((23, 4)), rng.integers(0, 3, 23)


# -- structure ---------------------------------------------------------------


def test_param_names_and_shapes_follow_the_layers():
    net = build_net([4, 6, 5, 3], ["prelu", "tanh", "sigmoid"])
    assert list(net.params) == ["W1", "b1", "alpha1", "W2", "b2", "W3", "b3"]
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {
        "W1": (4, 6), "b1": (6,), "alpha1": (6,),
        "W2": (6, 5), "b2": (5,),
        "W3": (5, 3), "b3": (3,),
    }  # fmt: skip
    assert net.sizes == [4, 6, 5, 3]
    assert set(net.grads) == set(net.params)
    assert all(net.grads[k].shape == p.shape for k, p in net.params.items())


def test_forward_is_the_textbook_formula(Xy):
    X, _ = Xy
    net = build_net([4, 5, 3], ["tanh", "sigmoid"])
    p = net.params
    a1 = np.tanh(X @ p["W1"] + p["b1"])
    a2 = 1 / (1 + np.exp(-(a1 @ p["W2"] + p["b2"])))
    np.testing.assert_allclose(net.forward(X), a2, rtol=1e-14)
    assert net.forward(X).shape == (len(X), 3)


def test_params_are_the_live_arrays(Xy):
    X, _ = Xy
    net = build_net([4, 5, 3], ["prelu", "identity"], "quadratic")
    assert net.params["W1"] is net.layers[0].W
    assert net.params["alpha1"] is net.layers[0].activation.alpha
    before = net.forward(X).copy()
    net.params["b2"] += 1.0  # in place: the layer sees it
    np.testing.assert_allclose(net.forward(X), before + 1.0, rtol=1e-14)
    net.params["alpha1"][...] = 0.0  # PReLU with slope 0 is ReLU
    a1 = np.maximum(X @ net.params["W1"] + net.params["b1"], 0)
    np.testing.assert_allclose(net.forward(X), a1 @ net.params["W2"] + net.params["b2"], rtol=1e-14)


def test_cost_and_output_must_match():
    with pytest.raises(ValueError, match="sigmoid"):
        build_net([4, 3], "softmax", "cross_entropy")
    with pytest.raises(ValueError, match="softmax"):
        build_net([4, 3], "sigmoid", "log_likelihood")
    build_net([4, 3], "softmax", "quadratic")  # quadratic takes any output


def test_dense_rejects_mismatched_weight_and_bias():
    with pytest.raises(ValueError):
        Dense(np.zeros((4, 3)), np.zeros(2), make_activation("sigmoid"))


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 2, np.float64).dtype == np.float64


# -- save / load ---------------------------------------------------------------


def test_save_load_round_trip_restores_outputs_exactly(tmp_path, Xy):
    X, _ = Xy
    src = build_net([4, 5, 5, 3], ["prelu", "elu", "softmax"], "log_likelihood", seed=1)
    src.params["alpha1"][...] = np.linspace(0.05, 0.5, 5)
    src.save(tmp_path / "params.npz")
    dst = build_net([4, 5, 5, 3], ["prelu", "elu", "softmax"], "log_likelihood", seed=2)
    assert not np.array_equal(dst.forward(X), src.forward(X))
    live = dst.params["W1"]
    dst.load(tmp_path / "params.npz")
    assert dst.params["W1"] is live  # loaded into the live arrays
    for k in src.params:
        np.testing.assert_array_equal(dst.params[k], src.params[k])
    np.testing.assert_array_equal(dst.forward(X), src.forward(X))
    with np.load(tmp_path / "params.npz") as f:
        assert sorted(f.files) == sorted(src.params)


def test_load_rejects_mismatched_shapes_and_leaves_the_network_unchanged(tmp_path):
    build_net([4, 5, 3], seed=1).save(tmp_path / "small.npz")
    net = build_net([4, 5, 7], seed=2)  # W1, b1 match; W2, b2 do not
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match="shape"):
        net.load(tmp_path / "small.npz")
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k], err_msg=f"{k} half-loaded")


def test_load_rejects_mismatched_names(tmp_path):
    build_net([4, 5, 3], ["prelu", "sigmoid"]).save(tmp_path / "prelu.npz")
    with pytest.raises(ValueError, match="alpha1"):
        build_net([4, 5, 3], "sigmoid").load(tmp_path / "prelu.npz")


# -- evaluate / predict ------------------------------------------------------------


@pytest.mark.parametrize("cost, out", [("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")])
def test_evaluate_is_mean_cost_plus_penalty_and_accuracy_of_predict(Xy, cost, out):
    X, y = Xy
    net = build_net([4, 5, 3], ["tanh", out], cost, l2=0.02, seed=3)
    loss, acc = net.evaluate(X, y)
    a = net.forward(X)
    per_example = net.cost.fn(net.layers[-1].z, a, one_hot(y, 3, np.float64))
    penalty = 0.5 * 0.02 * sum(float((net.params[k] ** 2).sum()) for k in ("W1", "W2"))
    assert loss == pytest.approx(per_example.mean() + penalty, rel=1e-13)
    assert loss == pytest.approx(net.loss(X, one_hot(y, 3, np.float64)), rel=1e-13)
    assert acc == np.mean(net.predict(X) == y)
    assert 0 < acc < 1  # a nontrivial split, so the comparison means something
    # chunking changes nothing
    loss_chunked, acc_chunked = net.evaluate(X, y, batch=5)
    assert loss_chunked == pytest.approx(loss, rel=1e-13) and acc_chunked == acc


def test_predict_is_argmax_of_predict_proba_in_any_chunking(Xy):
    X, _ = Xy
    net = build_net([4, 5, 3], ["relu", "softmax"], "log_likelihood", seed=4)
    proba = net.predict_proba(X, batch=4)
    np.testing.assert_allclose(proba, net.forward(X), rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X, batch=7), proba.argmax(axis=1))


# -- Nielsen's L2 convention, by hand --------------------------------------------


def tiny_l2_net() -> Network:
    W = np.array([[0.5, -0.2], [-0.3, 0.4]])
    b = np.array([0.1, -0.1])
    return Network([Dense(W, b, make_activation("sigmoid"))], make_cost("cross_entropy"), l2=0.1)


def expected_after_one_step(eta: float, l2: float):
    """w ← (1 - ηλ/n) w - η·(mean data gradient); b ← b - η·(mean δ), worked element by element."""
    X = [[1.0, 2.0], [-1.0, 0.5]]
    # z = x W + b:  x1 → (0.5 - 0.6 + 0.1, -0.2 + 0.8 - 0.1) = (0, 0.5)
    #               x2 → (-0.5 - 0.15 + 0.1, 0.2 + 0.2 - 0.1) = (-0.55, 0.3)
    # labels (0, 1): δ = a - y
    d = [[sig(0.0) - 1, sig(0.5)], [sig(-0.55), sig(0.3) - 1]]
    # mean data gradient: ∂C/∂W_ij = ½ Σ_x x_i δ_j,  ∂C/∂b_j = ½ Σ_x δ_j
    gW = [[0.5 * (X[0][i] * d[0][j] + X[1][i] * d[1][j]) for j in range(2)] for i in range(2)]
    gb = [0.5 * (d[0][j] + d[1][j]) for j in range(2)]
    W0, b0 = [[0.5, -0.2], [-0.3, 0.4]], [0.1, -0.1]
    W = [[(1 - eta * l2) * W0[i][j] - eta * gW[i][j] for j in range(2)] for i in range(2)]
    b = [b0[j] - eta * gb[j] for j in range(2)]  # biases are not decayed
    return np.array(W), np.array(b)


def test_one_sgd_step_with_l2_is_nielsens_weight_decay():
    net = tiny_l2_net()
    X, y = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([0, 1])
    opt = make_optimizer("sgd", learning_rate=0.5)
    _, grads = net.loss_and_grads(X, y)
    apply_updates(net.params, opt.update(grads, opt.init(net.params)))
    W, b = expected_after_one_step(eta=0.5, l2=0.1)  # (1 - 0.05) W - 0.5 g
    np.testing.assert_allclose(net.params["W1"], W, rtol=1e-14)
    np.testing.assert_allclose(net.params["b1"], b, rtol=1e-14)


def test_training_loop_applies_the_same_weight_decay():
    net = tiny_l2_net()
    X, y = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([0, 1])
    state = train(net, make_optimizer("sgd", learning_rate=0.5), X, y, epochs=1, batch_size=2,
                  rng=np.random.default_rng(0))  # fmt: skip
    assert state.step == 1
    W, b = expected_after_one_step(eta=0.5, l2=0.1)
    np.testing.assert_allclose(net.params["W1"], W, rtol=1e-14)
    np.testing.assert_allclose(net.params["b1"], b, rtol=1e-14)


def test_l2_penalty_is_lambda_over_2n_times_sum_of_squared_weights():
    net = tiny_l2_net()
    # (0.1/2)·(0.25 + 0.04 + 0.09 + 0.16) = 0.05·0.54 = 0.027;  biases excluded
    assert net.l2_penalty() == pytest.approx(0.027, rel=1e-14)
    net.l2 = 0.0
    assert net.l2_penalty() == 0.0


# -- dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_chosen_by_the_arrays(Xy, dtype):
    X, y = Xy
    net = build_net([4, 5, 3], ["prelu", "sigmoid"], dtype=dtype, l2=0.01)
    assert net.dtype == dtype
    assert all(p.dtype == dtype for p in net.params.values())
    assert net.forward(X.astype(dtype)).dtype == dtype
    _, grads = net.loss_and_grads(X.astype(dtype), y)
    assert all(g.dtype == dtype for g in grads.values())
    assert net.targets(y).dtype == dtype


def test_float32_and_float64_nets_from_one_seed_agree(Xy):
    X, _ = Xy
    n32 = build_net([4, 5, 3], ["tanh", "sigmoid"], dtype=np.float32, seed=5)
    n64 = build_net([4, 5, 3], ["tanh", "sigmoid"], dtype=np.float64, seed=5)
    np.testing.assert_allclose(n32.forward(X.astype(np.float32)), n64.forward(X), rtol=1e-5)


# -- dropout -----------------------------------------------------------------------


def test_dropout_only_in_training_and_inverted_scaling():
    net = build_net([20, 400, 3], ["relu", "sigmoid"], dropout=[0.25, 0.0], seed=6)
    X = np.random.default_rng(1).standard_normal((50, 20))
    hidden = net.layers[0]
    net.forward(X)
    assert hidden.mask is None  # evaluation: nothing dropped
    a_eval = hidden.out.copy()
    net.forward(X, train=True, rng=np.random.default_rng(2))
    mask = hidden.mask
    dropped = (mask == 0).mean()
    assert dropped == pytest.approx(0.25, abs=0.01)  # 20,000 draws
    np.testing.assert_allclose(mask[mask > 0], 1 / 0.75)  # kept units scaled by 1/(1-p)
    np.testing.assert_allclose(hidden.out, a_eval * mask, rtol=1e-14)
    # so the expected training output equals the evaluation output
    assert hidden.out.sum() == pytest.approx(a_eval.sum(), rel=0.02)


def test_dropout_needs_the_generator():
    net = build_net([4, 5, 3], dropout=[0.5, 0.0])
    with pytest.raises(ValueError, match="Generator"):
        net.forward(np.zeros((2, 4)), train=True)


def test_deltas_are_the_mean_bias_gradients(Xy):
    X, y = Xy
    net = build_net([4, 5, 5, 3], "sigmoid", seed=7)
    _, grads = net.loss_and_grads(X, y)
    deltas = net.deltas()
    assert len(deltas) == 3
    for l, d in enumerate(deltas, start=1):
        np.testing.assert_array_equal(d, grads[f"b{l}"])


def test_repr_names_sizes_and_layers():
    text = repr(build_net([4, 5, 3], ["prelu", "sigmoid"], l2=0.5, dropout=[0.5, 0.0]))
    assert "[4, 5, 3]" in text and "PReLU" in text and "dropout=0.5" in text and "l2=0.5" in text
