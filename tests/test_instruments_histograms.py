"""Histograms by hand: fixed bins, the outermost bins take what lies beyond, and a quantity that is
all zero at initialization gets its bins at the first record where it is not (kept across a resume)."""

import numpy as np
import pytest
from helpers import build_net

from nnlab.instruments.histograms import Histograms, counts, linear_edges, log_edges, read_histograms
from nnlab.training import TrainState


def test_counts_put_values_beyond_the_edges_in_the_outermost_bins():
    edges = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(counts(np.array([-5.0, -0.5, 0.0, 0.5, 0.9, 7.0]), edges), [2, 4])


def test_linear_edges_span_four_times_the_largest_value():
    np.testing.assert_allclose(linear_edges(np.array([0.1, -0.5]), 4), [-2.0, -1.0, 0.0, 1.0, 2.0])


def test_log_edges_are_symmetric_decades_around_zero():
    edges = log_edges(np.array([1e-2, -1e-2, 1e-2, 1.0]), 12)  # median |g| 1e-2, largest 1
    np.testing.assert_allclose(edges[7:], np.logspace(-6, 1, 7))
    np.testing.assert_allclose(edges[:6], -np.logspace(-6, 1, 7)[::-1][:6])
    assert len(edges) == 14  # 13 bins: 6 a side and (-1e-6, 1e-6)


def state(net, step):
    return TrainState(net=net, optimizer=None, opt_state={}, rng=None, epochs=5, batch_size=2, n_train=4,
                      step=step, epoch=step)  # fmt: skip


def test_a_layer_that_starts_at_zero_gets_its_bins_when_it_moves_and_keeps_them_across_a_resume(tmp_path):
    rng = np.random.default_rng(0)
    net = build_net([3, 4, 2], ["sigmoid", "sigmoid"])
    net.layers[-1].W[...] = 0.0
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    path = tmp_path / "histograms.npz"
    h = Histograms(X, y, bins=4, path=path)
    h.on_train_start(state(net, 0))
    h.on_epoch_end(state(net, 1))  # still 0: no bins yet
    assert h.zeros[("weights", 2)] == [8, 8] and ("weights", 2) not in h.edges
    assert read_histograms(path)["zeros"][("weights", 2)].tolist() == [8, 8]

    resumed = Histograms(X, y, bins=4, path=path)
    net.layers[-1].W[...] = np.array([[0.5, -0.25]] * 4)
    resumed.on_train_start(state(net, 1))  # a resume after epoch 1: its records are read back
    resumed.on_epoch_end(state(net, 2))
    got = read_histograms(path)
    np.testing.assert_allclose(got["edges"][("weights", 2)], [-2.0, -1.0, 0.0, 1.0, 2.0])
    # the two all-zero records: every value in the bin holding 0, [0, 1); then 4 x 0.5 and 4 x -0.25
    np.testing.assert_array_equal(got["counts"][("weights", 2)], [[0, 0, 8, 0], [0, 0, 8, 0], [0, 4, 4, 0]])
    assert ("weights", 2) not in got["zeros"]
    assert got["steps"].tolist() == [0, 1, 2]
    assert got["counts"][("weights", 1)].sum(axis=1).tolist() == [12, 12, 12]


@pytest.mark.parametrize("up_to", [0, 1])
def test_a_resume_drops_the_records_after_its_checkpoint(tmp_path, up_to):
    rng = np.random.default_rng(1)
    net = build_net([3, 4, 2], ["tanh", "sigmoid"])
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    path = tmp_path / "histograms.npz"
    h = Histograms(X, y, bins=6, path=path)
    for step in range(3):
        (h.on_train_start if step == 0 else h.on_epoch_end)(state(net, step))
    again = Histograms(X, y, bins=6, path=path)
    again.load(path, up_to_step=up_to)
    assert again.steps == list(range(up_to + 1))
    assert all(len(c) == up_to + 1 for c in again.counts.values())
