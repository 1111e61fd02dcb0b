"""model.layers and model.input: what is accepted, what is built, and the exact line for each mistake."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.build import build_network
from nnlab.config import dump_config, load_config
from nnlab.errors import UserError

CONV = [
    {"kind": "conv2d", "filters": 4, "kernel": 5},
    "maxpool2d",
    {"kind": "dense", "units": 20, "dropout": 0.5},
    {"kind": "dense", "units": 10},
]


def config(layers=CONV, **model):
    return {
        "model": {"layers": layers, "output": "softmax", "cost": "log_likelihood", **model},
        "data": {"dataset": "mnist-mini"},
    }


def errors(data: dict, overrides=()) -> list[str]:
    with pytest.raises(UserError) as exc:
        load_config(data, list(overrides))
    return exc.value.lines


def test_a_conv_net_is_built_with_an_implicit_flatten_and_numbered_parameters():
    cfg = load_config(config())
    net = build_network(cfg, np.random.default_rng(0))
    assert [layer.label for layer in net.layers] == ["conv1", "pool1", "flatten", "dense2", "output"]
    assert net.input_shape == (28, 28, 1)  # the dataset's [1, 28, 28], channels last
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (5, 5, 1, 4), "b1": (4,), "W2": (576, 20), "b2": (20,), "W3": (20, 10), "b3": (10,),
    }  # fmt: skip
    assert net.layers[3].dropout == 0.5 and net.layers[4].dropout == 0.0
    assert net.forward(np.zeros((3, 784), np.float32)).shape == (3, 10)


def test_the_dump_reloads_to_the_same_config():
    cfg = load_config(config())
    text = dump_config(cfg)
    assert "  - {kind: conv2d, filters: 4, kernel: 5}\n" in text and "sizes" not in text
    import yaml

    assert load_config(yaml.safe_load(text)) == cfg


def test_sizes_and_layers_build_the_same_network():
    by_sizes = build_network(load_config({"model": {"sizes": [784, 30, 10]}}), np.random.default_rng(3))
    layers = [{"kind": "dense", "units": 30}, {"kind": "dense", "units": 10}]
    by_layers = build_network(load_config({"model": {"layers": layers}}), np.random.default_rng(3))
    assert list(by_sizes.params) == list(by_layers.params)
    for k in by_sizes.params:
        np.testing.assert_array_equal(by_sizes.params[k], by_layers.params[k])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            config([{"kind": "conv2d", "filters": 4, "kernel": 5}, "maxpool2d", {"kind": "conv2d", "filters": 4, "kernel": 13}, {"kind": "dense", "units": 10}]),
            ["<dict>: model.layers[2].kernel: a 13x13 kernel does not fit the 12x12 map it gets"],
        ),
        (
            config([{"kind": "conv2d", "filters": 4, "kernel": 3}, {"kind": "maxpool2d", "size": 4}, {"kind": "dense", "units": 10}]),
            ["<dict>: model.layers[1].size: 4x4 pooling does not tile the 26x26 map it gets (sides must be multiples of 4)"],
        ),
        (
            config([{"kind": "conv2d", "filters": 4, "kernal": 5}, {"kind": "dense", "units": 10}]),
            [
                "<dict>: model.layers[0].kernal: not a parameter of 'conv2d'; conv2d takes: activation, filters, init, kernel (did you mean 'kernel'?)",
                "<dict>: model.layers[0].kernel: missing; a conv2d layer needs kernel (kernel side k (k x k, stride 1, no padding))",
            ],
        ),
        (
            config([{"kind": "conv", "filters": 4, "kernel": 5}, {"kind": "dense", "units": 10}]),
            ["<dict>: model.layers[0].kind: unknown layer kind 'conv'; valid: conv2d, dense, flatten, maxpool2d (did you mean 'conv2d'?)"],
        ),
        (
            config([{"kind": "conv2d", "filters": 0, "kernel": 5}, {"kind": "dense", "units": 10}]),
            ["<dict>: model.layers[0].filters: got 0; must be an integer >= 1"],
        ),
        (
            config([{"kind": "dense", "units": 30}, "maxpool2d"]),
            ["<dict>: model.layers[1]: max-pooling takes (H, W, C) maps, not inputs of shape (30,)"],
        ),
        (
            config([{"kind": "conv2d", "filters": 4, "kernel": 5}, {"kind": "dense", "units": 7}]),
            ["<dict>: model.layers[1].units: got 7; must be 10 (the classes)"],
        ),
        (
            config(input=[1, 20, 20]),
            ["<dict>: model.input: got [1, 20, 20] (400 inputs); one mnist-mini example has 784 inputs ([1, 28, 28] as an image)"],
        ),
        (
            config(sizes=[784, 10]),
            ["<dict>: model.sizes: given with model.layers; give one: sizes (a fully-connected net) or layers"],
        ),
        (
            config(activation=["relu", "relu"]),
            ["<dict>: model.activation: got 2 activations; a list is for model.sizes; with model.layers give a layer its own activation there"],
        ),
    ],
    ids=["kernel-too-big", "pool-does-not-tile", "misspelt-key", "unknown-kind", "bad-value", "pool-after-dense",
         "output-units", "input-size", "sizes-and-layers", "activation-list"],
)  # fmt: skip
def test_bad_layers_give_exact_lines(data, expected):
    assert errors(data) == expected


def test_a_learned_activation_on_a_conv_layer_is_refused_where_it_was_given():
    assert errors(config(activation="prelu")) == [
        "<dict>: model.activation: 'prelu' learns a parameter per unit: dense layers only; conv layer 0 needs another"
    ]
    layers = [{"kind": "conv2d", "filters": 4, "kernel": 5, "activation": "prelu"}, *CONV[1:]]
    assert errors(config(layers)) == [
        "<dict>: model.layers[0].activation: 'prelu' learns a parameter per unit: dense layers only; conv layer 0 needs another"
    ]


def test_a_layer_set_from_the_command_line_is_named_in_the_error():
    lines = errors(config(), ["model.layers[0].kernel=40"])
    assert lines == [
        "--set model.layers[0].kernel=40: model.layers[0].kernel: a 40x40 kernel does not fit the 28x28 map it gets"
    ]
