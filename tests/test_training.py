"""The training loop: determinism, hook order and counts, stopping, divergence, mini-batching,
resumption, and that a small learnable problem is learned."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import blobs, build_net

from nnlab.errors import DivergedError
from nnlab.optimizers import global_norm, make_optimizer
from nnlab.training import EarlyStopping, EvalSet, Hook, train

CENTERS = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])


@pytest.fixture
def data():
    """25 examples (not a multiple of 10), 3 classes; X[:, 0] is unique per row."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((25, 4))
    X[:, 0] = np.arange(25)
    return X, rng.integers(0, 3, 25)


def run(X, y, *, seed=0, train_seed=0, epochs=3, batch_size=10, dropout=(0.3, 0.0), **kw):
    net = build_net([4, 6, 3], ["tanh", "sigmoid"], seed=seed, dropout=list(dropout))
    opt = kw.pop("optimizer", None) or make_optimizer("momentum", learning_rate=0.05)
    state = train(net, opt, X, y, epochs=epochs, batch_size=batch_size, rng=np.random.default_rng(train_seed), **kw)
    return net, state


class Recorder(Hook):
    def __init__(self):
        self.events: list[str] = []
        self.steps: list[int] = []
        self.epochs: list[int] = []
        self.batch_sizes: list[int] = []
        self.rows: list[np.ndarray] = []

    def on_train_start(self, state):
        self.events.append("on_train_start")

    def on_gradients(self, state):
        self.events.append("on_gradients")
        Xb = state.net.layers[0].a_prev
        self.batch_sizes.append(len(Xb))
        self.rows.append(Xb[:, 0].copy())

    def on_step_end(self, state):
        self.events.append("on_step_end")
        self.steps.append(state.step)

    def on_epoch_end(self, state):
        self.events.append("on_epoch_end")
        self.epochs.append(state.epoch)

    def on_train_end(self, state):
        self.events.append("on_train_end")


# -- determinism -------------------------------------------------------------------


def test_same_seed_gives_bit_identical_parameters(data):
    X, y = data
    a, _ = run(X, y, seed=1, train_seed=7)
    b, _ = run(X, y, seed=1, train_seed=7)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k


def test_different_training_seeds_give_different_parameters(data):
    X, y = data
    a, _ = run(X, y, seed=1, train_seed=7)
    b, _ = run(X, y, seed=1, train_seed=8)  # same start, other shuffles and masks
    assert not np.array_equal(a.params["W1"], b.params["W1"])


def test_resuming_from_saved_state_matches_an_uninterrupted_run(data):
    X, y = data
    straight, _ = run(X, y, epochs=4, train_seed=3)
    net = build_net([4, 6, 3], ["tanh", "sigmoid"], dropout=[0.3, 0.0])
    opt, rng = make_optimizer("momentum", learning_rate=0.05), np.random.default_rng(3)
    first = train(net, opt, X, y, epochs=2, batch_size=10, rng=rng)
    train(net, opt, X, y, epochs=4, batch_size=10, rng=rng,
          opt_state=first.opt_state, start_epoch=first.epoch, start_step=first.step)  # fmt: skip
    for k in net.params:
        assert np.array_equal(net.params[k], straight.params[k]), k


# -- hooks ----------------------------------------------------------------------------


def test_hooks_fire_in_order_with_the_right_counts(data):
    X, y = data
    rec = Recorder()
    _, state = run(X, y, epochs=3, batch_size=10, hooks=[rec])
    # 25 examples in batches of 10: 3 steps per epoch
    epoch = ["on_gradients", "on_step_end"] * 3 + ["on_epoch_end"]
    assert rec.events == ["on_train_start"] + epoch * 3 + ["on_train_end"]
    assert rec.steps == list(range(1, 10))
    assert rec.epochs == [1, 2, 3]
    assert (state.step, state.epoch, state.batches_per_epoch) == (9, 3, 3)


def test_on_gradients_sees_this_steps_gradients_before_the_update(data):
    X, y = data
    twin = build_net([4, 6, 3], ["tanh", "sigmoid"], dropout=[0.0, 0.0])

    class Check(Hook):
        calls = 0

        def on_gradients(self, state):
            self.before = {k: p.copy() for k, p in state.net.params.items()}
            # full batch: the gradient is the same whatever the order of the rows
            for k, p in state.net.params.items():
                twin.params[k][...] = p
            _, expected = twin.loss_and_grads(X, y)
            for k in expected:
                np.testing.assert_allclose(state.grads[k], expected[k], rtol=1e-10, atol=1e-14)

        def on_step_end(self, state):
            Check.calls += 1
            for k, p in state.net.params.items():
                np.testing.assert_allclose(p - self.before[k], state.updates[k], rtol=1e-12, atol=1e-15)
                assert not np.array_equal(p, self.before[k])

    run(X, y, epochs=2, batch_size=len(X), dropout=(0.0, 0.0), hooks=[Check()],
        optimizer=make_optimizer("sgd", learning_rate=0.5))  # fmt: skip
    assert Check.calls == 2


def test_gradient_clipping_happens_before_on_gradients(data):
    X, y = data
    norms = []

    class Watch(Hook):
        def on_gradients(self, state):
            norms.append((state.grad_norm, global_norm(state.grads)))

    run(X, y, epochs=1, clip_norm=1e-3, hooks=[Watch()])
    assert len(norms) == 3
    for before, after in norms:
        assert before > 1e-3  # the clip was active ...
        assert after == pytest.approx(1e-3, rel=1e-9)  # ... and hooks see the clipped gradients


def test_eval_sets_give_named_metrics_each_epoch(data):
    X, y = data
    seen = []

    class Metrics(Hook):
        def on_epoch_end(self, state):
            seen.append(dict(state.metrics))

    net, _ = run(X, y, epochs=2, eval_sets=[EvalSet("train", X, y), EvalSet("validation", X[:10], y[:10])],
                 hooks=[Metrics()])  # fmt: skip
    assert len(seen) == 2
    assert set(seen[-1]) == {"train_loss", "train_accuracy", "validation_loss", "validation_accuracy"}
    loss, acc = net.evaluate(X[:10], y[:10])
    assert seen[-1]["validation_loss"] == loss and seen[-1]["validation_accuracy"] == acc


# -- stopping ---------------------------------------------------------------------------


def test_early_stopping_stops_when_the_metric_stalls(data):
    X, y = data
    rec = Recorder()
    stopper = EarlyStopping(patience=3, monitor="validation_accuracy")
    # learning rate 0: the accuracy never improves after epoch 1
    _, state = run(X, y, epochs=20, eval_sets=[EvalSet("validation", X, y)], hooks=[stopper, rec],
                   optimizer=make_optimizer("sgd", learning_rate=0.0))  # fmt: skip
    assert state.epoch == 4  # best at 1, then 3 epochs without improvement
    assert "validation_accuracy" in state.stop
    assert rec.events.count("on_train_end") == 1
    assert stopper.best_epoch == 1


def test_early_stopping_tracks_the_best_epoch():
    stopper = EarlyStopping(patience=2, monitor="m")
    state = SimpleNamespace(epoch=0, metrics={}, stop=None)
    for value in [0.5, 0.6, 0.6, 0.7, 0.65, 0.69]:
        state.epoch += 1
        state.metrics = {"m": value}
        stopper.on_epoch_end(state)
        if state.stop:
            break
    # improvements at epochs 1, 2, 4; epochs 5 and 6 do not improve → stop at 6
    assert (state.epoch, stopper.best, stopper.best_epoch) == (6, 0.7, 4)
    assert state.stop is not None


def test_a_hook_setting_stop_ends_training(data):
    X, y = data
    rec = Recorder()

    class StopAtTwo(Hook):
        def on_epoch_end(self, state):
            if state.epoch == 2:
                state.stop = "enough"

    _, state = run(X, y, epochs=10, hooks=[StopAtTwo(), rec])
    assert state.epoch == 2 and state.stop == "enough"
    assert rec.events[-1] == "on_train_end" and rec.events.count("on_epoch_end") == 2


def test_a_stop_requested_mid_epoch_ends_training_by_the_end_of_that_epoch(data):
    X, y = data

    class StopAtFirstStep(Hook):
        def on_step_end(self, state):
            state.stop = "now"

    _, state = run(X, y, epochs=10, hooks=[StopAtFirstStep()])
    assert state.epoch <= 1 and state.step <= state.batches_per_epoch


# -- divergence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss_every, evaluate",
    [(1, False), (10, False), (1000, True)],  # caught at a measured step, or by the epoch's evaluation
)
def test_divergence_raises_naming_the_epoch(data, loss_every, evaluate):
    X, y = data
    # Linear output + quadratic cost: each step multiplies the output error by about
    # (1 - η) = -1e10, so the loss overflows to inf after ~16 of the 25 steps of epoch 1
    net = build_net([4, 8, 3], ["relu", "identity"], "quadratic", seed=2)
    eval_sets = [EvalSet("train", X, y)] if evaluate else []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(DivergedError) as err:
            train(net, make_optimizer("sgd", learning_rate=1e10), X, y, epochs=5, batch_size=1,
                  rng=np.random.default_rng(0), loss_every=loss_every, eval_sets=eval_sets)  # fmt: skip
    assert err.value.epoch == 1
    assert "epoch 1" in str(err.value)
    assert err.value.layer is not None


# -- mini-batches -----------------------------------------------------------------------


def test_last_partial_batch_is_used_and_every_example_once_per_epoch(data):
    X, y = data
    rec = Recorder()
    run(X, y, epochs=2, batch_size=10, hooks=[rec])
    assert rec.batch_sizes == [10, 10, 5] * 2
    for e in range(2):
        seen = np.sort(np.concatenate(rec.rows[3 * e : 3 * e + 3]))
        np.testing.assert_array_equal(seen, np.arange(25))
    # reshuffled: the two epochs do not visit the examples in the same order
    assert not np.array_equal(np.concatenate(rec.rows[:3]), np.concatenate(rec.rows[3:]))


@pytest.mark.parametrize("batch_size", [0, 26])
def test_batch_size_outside_1_to_n_is_rejected(data, batch_size):
    X, y = data
    with pytest.raises(ValueError, match="batch_size"):
        run(X, y, batch_size=batch_size)


def test_batch_size_equal_to_n_is_one_step_per_epoch(data):
    X, y = data
    _, state = run(X, y, epochs=2, batch_size=25)
    assert state.step == 2


# -- learning -----------------------------------------------------------------------------


def test_learns_gaussian_blobs():
    X, y = blobs(100, CENTERS, std=0.7, seed=1)
    X_test, y_test = blobs(50, CENTERS, std=0.7, seed=2)
    net = build_net([2, 10, 3], "sigmoid", "cross_entropy", seed=3)
    _, acc_before = net.evaluate(X_test, y_test)
    state = train(net, make_optimizer("sgd", learning_rate=0.5), X, y, epochs=30, batch_size=10,
                  rng=np.random.default_rng(4), eval_sets=[EvalSet("test", X_test, y_test)])  # fmt: skip
    assert acc_before < 0.6  # chance is 1/3: it starts out not knowing
    assert state.metrics["test_accuracy"] > 0.9


def test_float32_training_stays_float32():
    X, y = blobs(30, CENTERS, std=0.7, seed=5, dtype=np.float32)
    net = build_net([2, 6, 3], ["relu", "softmax"], "log_likelihood", dtype=np.float32, l2=1e-3)
    train(net, make_optimizer("adam", learning_rate=0.01), X, y, epochs=2, batch_size=8,
          rng=np.random.default_rng(0))  # fmt: skip
    assert all(p.dtype == np.float32 for p in net.params.values())
