"""The fast path (flat θ, blocked optimizer update) gives bit-identical parameters to the plain path."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_net
from test_conv import small_conv_net

from nnlab.fastpath import FlatUpdate
from nnlab.optimizers import OPTIMIZERS, make_optimizer
from nnlab.training import train

LEARNING_RATES = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.05, "rmsprop": 0.01, "adam": 0.01}


def dense_net(fast: bool):
    return build_net(
        [64, 12, 10, 3], ["tanh", "relu", "softmax"], "log_likelihood", l2=0.01, dtype=np.float32, fast=fast
    )


def conv_net(fast: bool):
    return small_conv_net(seed=1, l2=0.01, fast=fast, dtype=np.float32, activation="relu")


@pytest.mark.parametrize("make_net", [dense_net, conv_net], ids=["dense", "conv"])
@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_fast_and_plain_paths_give_bit_identical_parameters(name, make_net):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 64)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    results = {}
    for fast in (True, False):
        net = make_net(fast)
        assert (net.flat is not None) == fast
        opt = make_optimizer(name, learning_rate=LEARNING_RATES.get(name, 0.01))
        if fast:  # the fast path really is taken
            assert FlatUpdate.make(net, opt, opt.init(net.params)) is not None
        train(net, opt, X, y, epochs=3, batch_size=8, rng=np.random.default_rng(1), fast=fast)
        results[fast] = {k: p.copy() for k, p in net.params.items()}
    assert results[True].keys() == results[False].keys()
    for k in results[True]:
        np.testing.assert_array_equal(results[True][k], results[False][k], err_msg=k)
    start = make_net(True).params
    assert any(not np.array_equal(results[True][k], start[k]) for k in start)  # training moved them
