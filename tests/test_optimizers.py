"""Optimizers: one or two steps against numbers worked out by hand, the state they keep,
convergence on a convex problem, and gradient clipping.

Notation of docs/protocols.md#engine: g = gradient, ε = learning rate. Gradients are passed as
copies because ``update`` may consume them.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.errors import UserError
from nnlab.optimizers import OPTIMIZERS, apply_updates, clip_by_global_norm, global_norm, make_optimizer

# two steps of gradients for a parameter dict {"w": (2,), "b": (1, 1)}
G1 = {"w": np.array([0.5, -2.0]), "b": np.array([[0.0]])}
G2 = {"w": np.array([1.0, 0.0]), "b": np.array([[0.0]])}


def params() -> dict[str, np.ndarray]:
    return {"w": np.array([1.0, -1.0]), "b": np.array([[3.0]])}


def step(opt, state, grads):
    return opt.update({k: g.copy() for k, g in grads.items()}, state)


def test_sgd_step_by_hand():
    opt = make_optimizer("sgd", learning_rate=0.1)
    p = params()
    state = opt.init(p)
    assert set(state) == {"t"}
    # Δ = -ε g = -0.1·(0.5, -2) = (-0.05, 0.2)
    u = step(opt, state, G1)
    np.testing.assert_allclose(u["w"], [-0.05, 0.2], rtol=1e-15)
    np.testing.assert_array_equal(u["b"], [[0.0]])
    apply_updates(p, u)
    np.testing.assert_allclose(p["w"], [0.95, -0.8], rtol=1e-15)
    assert int(state["t"]) == 1


def test_momentum_two_steps_by_hand():
    opt = make_optimizer("momentum", learning_rate=0.1, momentum=0.9)
    state = opt.init(params())
    assert set(state) == {"v.w", "v.b", "t"}
    # step 1: v = 0.9·0 - 0.1·(0.5, -2) = (-0.05, 0.2);  Δ = v
    u1 = step(opt, state, G1)
    np.testing.assert_allclose(u1["w"], [-0.05, 0.2], rtol=1e-15)
    # step 2: v = 0.9·(-0.05, 0.2) - 0.1·(1, 0) = (-0.045 - 0.1, 0.18) = (-0.145, 0.18)
    u2 = step(opt, state, G2)
    np.testing.assert_allclose(u2["w"], [-0.145, 0.18], rtol=1e-14)
    np.testing.assert_allclose(state["v.w"], [-0.145, 0.18], rtol=1e-14)
    np.testing.assert_array_equal(state["v.b"], [[0.0]])
    assert int(state["t"]) == 2
    # the step returned earlier is not an alias of the velocity that kept moving
    np.testing.assert_allclose(u1["w"], [-0.05, 0.2], rtol=1e-15)


def test_nesterov_two_steps_by_hand():
    opt = make_optimizer("momentum", learning_rate=0.1, momentum=0.9, nesterov=True)
    state = opt.init(params())
    # step 1: v = (-0.05, 0.2);  Δ = αv - εg = 0.9·(-0.05, 0.2) - 0.1·(0.5, -2) = (-0.095, 0.38)
    u1 = step(opt, state, G1)
    np.testing.assert_allclose(u1["w"], [-0.095, 0.38], rtol=1e-14)
    np.testing.assert_allclose(state["v.w"], [-0.05, 0.2], rtol=1e-15)
    # step 2: v = (-0.145, 0.18);  Δ = 0.9·(-0.145, 0.18) - 0.1·(1, 0) = (-0.1305 - 0.1, 0.162)
    u2 = step(opt, state, G2)
    np.testing.assert_allclose(u2["w"], [-0.2305, 0.162], rtol=1e-14)
    np.testing.assert_allclose(state["v.w"], [-0.145, 0.18], rtol=1e-14)
    assert int(state["t"]) == 2


def test_adagrad_two_steps_by_hand():
    opt = make_optimizer("adagrad", learning_rate=0.1, delta=1e-7)
    state = opt.init(params())
    assert set(state) == {"r.w", "r.b", "t"}
    # step 1: r = 0 + (0.5², 2²) = (0.25, 4)
    #   Δ = -0.1·0.5/(1e-7 + 0.5) = -0.09999998;  -0.1·(-2)/(1e-7 + 2) = 0.099999995
    u1 = step(opt, state, G1)
    np.testing.assert_allclose(u1["w"], [-0.09999998000000401, 0.09999999500000026], rtol=1e-14)
    np.testing.assert_allclose(state["r.w"], [0.25, 4.0], rtol=1e-15)
    # step 2: r = (0.25 + 1², 4 + 0²) = (1.25, 4)
    #   Δ = -0.1·1/(1e-7 + √1.25) = -0.1/1.1180341 = -0.0894427111;  0 for the zero gradient
    u2 = step(opt, state, G2)
    np.testing.assert_allclose(u2["w"], [-0.0894427110999923, 0.0], rtol=1e-12)
    np.testing.assert_allclose(state["r.w"], [1.25, 4.0], rtol=1e-15)
    np.testing.assert_array_equal(u2["b"], [[0.0]])  # 0/(δ + 0) is 0, not NaN
    assert int(state["t"]) == 2


def test_rmsprop_two_steps_by_hand():
    opt = make_optimizer("rmsprop", learning_rate=0.01, rho=0.9, delta=1e-6)
    state = opt.init(params())
    assert set(state) == {"r.w", "r.b", "t"}
    # step 1: r = 0.9·0 + 0.1·(0.25, 4) = (0.025, 0.4)
    #   Δ = -0.01·0.5/√(1e-6 + 0.025) = -0.005/0.1581170 = -0.0316221442
    #       -0.01·(-2)/√(1e-6 + 0.4) = 0.02/0.6324563 = 0.0316227371
    u1 = step(opt, state, G1)
    np.testing.assert_allclose(u1["w"], [-0.031622144165124794, 0.03162273707328716], rtol=1e-12)
    np.testing.assert_allclose(state["r.w"], [0.025, 0.4], rtol=1e-14)
    # step 2: r = 0.9·(0.025, 0.4) + 0.1·(1, 0) = (0.1225, 0.36)
    #   Δ = -0.01·1/√(1e-6 + 0.1225) = -0.01/0.3500014 = -0.0285713120;  0
    u2 = step(opt, state, G2)
    np.testing.assert_allclose(u2["w"], [-0.028571311954066755, 0.0], rtol=1e-12)
    np.testing.assert_allclose(state["r.w"], [0.1225, 0.36], rtol=1e-14)
    assert int(state["t"]) == 2


def test_adam_two_steps_by_hand():
    opt = make_optimizer("adam", learning_rate=0.001, rho1=0.9, rho2=0.999, delta=1e-8)
    state = opt.init(params())
    assert set(state) == {"s.w", "s.b", "r.w", "r.b", "t"}
    # step 1 (t = 1): s = 0.1·(0.5, -2) = (0.05, -0.2);  r = 0.001·(0.25, 4) = (0.00025, 0.004)
    #   ŝ = s/(1 - 0.9) = g;  r̂ = r/(1 - 0.999) = g²;  Δ = -0.001·g/(|g| + 1e-8)
    #   = (-0.001·0.5/0.50000001, 0.001·2/2.00000001) = (-0.00099999998, 0.000999999995)
    u1 = step(opt, state, G1)
    np.testing.assert_allclose(u1["w"], [-0.0009999999800000003, 0.000999999995], rtol=1e-12)
    np.testing.assert_allclose(state["s.w"], [0.05, -0.2], rtol=1e-14)
    np.testing.assert_allclose(state["r.w"], [0.00025, 0.004], rtol=1e-14)
    # step 2 (t = 2): s = 0.9·(0.05, -0.2) + 0.1·(1, 0) = (0.145, -0.18)
    #   r = 0.999·(0.00025, 0.004) + 0.001·(1, 0) = (0.00124975, 0.003996)
    #   1 - 0.9² = 0.19;  1 - 0.999² = 0.001999
    #   w[0]: ŝ = 0.145/0.19 = 0.7631579;  √r̂ = √(0.00124975/0.001999) = 0.7906876
    #         Δ = -0.001·0.7631579/(0.7906876 + 1e-8) = -0.000965182
    #   w[1]: ŝ = -0.18/0.19 = -0.9473684;  √r̂ = √(0.003996/0.001999) = 1.4138598
    #         Δ = 0.001·0.9473684/1.4138598 = 0.000670058
    u2 = step(opt, state, G2)
    np.testing.assert_allclose(u2["w"], [-0.0009651820136149062, 0.0006700582493973263], rtol=1e-10)
    np.testing.assert_allclose(state["s.w"], [0.145, -0.18], rtol=1e-14)
    np.testing.assert_allclose(state["r.w"], [0.00124975, 0.003996], rtol=1e-14)
    np.testing.assert_array_equal(u2["b"], [[0.0]])
    assert int(state["t"]) == 2


# -- properties every registered optimizer must have -----------------------------


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_init_state_is_zero_slots_and_step_count(name):
    opt = make_optimizer(name, learning_rate=0.01)
    p = params()
    state = opt.init(p)
    assert int(state["t"]) == 0
    for key, value in state.items():
        if key == "t":
            continue
        slot, _, pname = key.partition(".")
        assert slot in opt.slots and pname in p
        assert value.shape == p[pname].shape and not value.any()
        assert value is not p[pname]
    assert len(state) == 1 + len(opt.slots) * len(p)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_first_step_goes_downhill_and_zero_gradient_moves_nothing(name):
    opt = make_optimizer(name, learning_rate=0.01)
    state = opt.init(params())
    u = step(opt, state, G1)
    assert set(u) == set(G1)
    assert float(np.vdot(u["w"], G1["w"])) < 0
    np.testing.assert_array_equal(u["b"], [[0.0]])


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_float32_parameters_get_float32_updates_and_state(name):
    opt = make_optimizer(name, learning_rate=0.01)
    p = {k: v.astype(np.float32) for k, v in params().items()}
    state = opt.init(p)
    for _ in range(2):
        u = opt.update({k: g.astype(np.float32) for k, g in G1.items()}, state)
        apply_updates(p, u)
    assert all(v.dtype == np.float32 for v in u.values())
    assert all(v.dtype == np.float32 for v in p.values())
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "t")


def test_apply_updates_changes_the_arrays_in_place():
    p = params()
    w = p["w"]
    apply_updates(p, {"w": np.array([0.5, 0.5]), "b": np.array([[-1.0]])})
    assert p["w"] is w
    np.testing.assert_array_equal(w, [1.5, -0.5])
    np.testing.assert_array_equal(p["b"], [[2.0]])


# -- convergence on a convex problem ------------------------------------------------

# minimise ½‖Aθ - c‖²: gradient Aᵀ(Aθ - c), Hessian AᵀA with eigenvalues ≈ 5.30 and 1.70
A = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
C = np.array([1.0, 2.0, 3.0])
THETA_STAR = np.linalg.solve(A.T @ A, A.T @ C)


@pytest.mark.parametrize(
    "name, hyper, steps, tol",
    [
        ("sgd", {"learning_rate": 0.1}, 200, 1e-10),
        ("momentum", {"learning_rate": 0.05, "momentum": 0.9}, 400, 1e-8),
        ("momentum", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, 400, 1e-8),
        ("adagrad", {"learning_rate": 0.5}, 2000, 1e-10),
        # steps of size ~ε even near the minimum (g/√r stays O(1)): it hovers within ~ε of θ*
        ("rmsprop", {"learning_rate": 0.001}, 4000, 1e-3),
        ("adam", {"learning_rate": 0.05}, 2000, 1e-8),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
)
def test_converges_on_least_squares(name, hyper, steps, tol):
    opt = make_optimizer(name, **hyper)
    p = {"theta": np.zeros(2)}
    state = opt.init(p)
    start = np.linalg.norm(p["theta"] - THETA_STAR)
    for _ in range(steps):
        grads = {"theta": A.T @ (A @ p["theta"] - C)}
        apply_updates(p, opt.update(grads, state))
    assert int(state["t"]) == steps
    assert np.linalg.norm(p["theta"] - THETA_STAR) < tol * start


# -- clipping ----------------------------------------------------------------------


def test_global_norm_spans_every_parameter():
    # ‖(3, 0, 4)‖ = 5
    assert global_norm({"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}) == 5.0


def test_clip_scales_gradients_above_the_norm_and_returns_the_norm_before():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    before = clip_by_global_norm(g, 1.0)
    assert before == 5.0
    # every gradient scaled by 1/5: direction kept, global norm now 1
    np.testing.assert_allclose(g["a"], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(g["b"], [[0.8]], rtol=1e-15)
    assert global_norm(g) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("max_norm", [5.0, 10.0])
def test_clip_leaves_gradients_at_or_below_the_norm_untouched(max_norm):
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert clip_by_global_norm(g, max_norm) == 5.0
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])
    np.testing.assert_array_equal(g["b"], [[4.0]])


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(UserError) as err:
        make_optimizer("lbfgs", learning_rate=0.1)
    for name in OPTIMIZERS.names():
        assert name in str(err.value)
