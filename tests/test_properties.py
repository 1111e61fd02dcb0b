"""Property tests (hypothesis) over random valid configs and random small networks.

- dump -> load is the identity on valid configs;
- every valid config builds a network and an optimizer that take a training step with
  finite results;
- backpropagation matches central differences (float64) on random small architectures
  with random activations, costs and L2.
"""

from __future__ import annotations

import os

import numpy as np
import yaml
from helpers import build_net, numerical_grad, rel_error
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nnlab.build import build_network, build_optimizer
from nnlab.config import config_to_dict, dump_config, load_config
from nnlab.config.parts import activation_names, cost_names, cost_outputs, hyper_of, initializer_names, optimizer_names
from nnlab.errors import DivergedError
from nnlab.network import one_hot
from nnlab.training import train

SETTINGS = settings(
    max_examples=int(os.environ.get("NNLAB_HYPOTHESIS_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HIDDEN = activation_names("hidden")
OUTPUTS = activation_names("output")

# valid values for each part's hyperparameters (ranges well inside what the schema allows)
PARAM_VALUES = {
    "slope": st.floats(0.001, 0.5),
    "init": st.floats(0.01, 0.5),
    "alpha": st.floats(0.1, 2.0),
    "beta": st.floats(0.5, 2.0),
    "std": st.floats(0.001, 0.5),
    "value": st.floats(-0.5, 0.5),
    "momentum": st.floats(0.0, 0.99),
    "nesterov": st.booleans(),
    "rho": st.floats(0.0, 0.99),
    "rho1": st.floats(0.0, 0.99),
    "rho2": st.floats(0.0, 0.999),
    "delta": st.floats(1e-10, 1e-4),
}
small_float = st.floats(0.0, 5.0, allow_nan=False)


@st.composite
def part(draw, names: list[str], kind: str) -> str | dict:
    """A part as users write it: a bare name, or {name: ..., some of the parameters it declares}."""
    name = draw(st.sampled_from(names))
    params = hyper_of(kind, name)
    if not params or draw(st.booleans()):
        return name
    chosen = draw(st.lists(st.sampled_from(sorted(params)), unique=True, max_size=len(params)))
    return {"name": name, **{k: draw(PARAM_VALUES[k]) for k in chosen}}


@st.composite
def configs(draw) -> dict:
    """A random valid config on mnist-mini with small sizes (as a plain dict)."""
    hidden = draw(st.lists(st.integers(1, 12), max_size=3))
    activation = (
        draw(st.lists(part(HIDDEN, "activation"), min_size=len(hidden), max_size=len(hidden)))
        if hidden and draw(st.booleans())
        else draw(part(HIDDEN, "activation"))
    )
    cost = draw(st.sampled_from(cost_names()))
    output = draw(part(list(cost_outputs(cost) or OUTPUTS), "activation"))
    optimizer_name = draw(st.sampled_from(optimizer_names()))
    opt = {"name": optimizer_name, "learning_rate": draw(st.floats(1e-4, 1.0))}
    for k in draw(st.lists(st.sampled_from(sorted(hyper_of("optimizer", optimizer_name)) or ["-"]), unique=True)):
        if k != "-":
            opt[k] = draw(PARAM_VALUES[k])
    n_train = draw(st.integers(20, 200))
    dropout = (
        draw(st.lists(st.floats(0.0, 0.9), min_size=len(hidden), max_size=len(hidden)))
        if hidden and draw(st.booleans())
        else draw(st.floats(0.0, 0.9))
    )
    return {
        "name": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)),
        "model": {
            "sizes": [784, *hidden, 10],
            "activation": activation,
            "output": output,
            "cost": cost,
            "cost_reduction": draw(st.sampled_from(["sum", "mean"])),
            "init": {
                "weights": draw(part(initializer_names(), "initializer")),
                "biases": draw(part(initializer_names(), "initializer")),
            },
        },
        "optimizer": opt,
        "regularization": {
            "l2": draw(small_float),
            "dropout": dropout,
            "clip_norm": draw(st.none() | st.floats(0.1, 10.0)),
        },
        "training": {
            "epochs": draw(st.integers(0, 100)),
            "batch_size": draw(st.integers(1, n_train)),
            "seed": draw(st.integers(0, 2**32)),
            "dtype": draw(st.sampled_from(["float32", "float64"])),
            "early_stopping": draw(st.none() | st.integers(1, 10)),
        },
        "data": {
            "dataset": "mnist-mini",
            "train_size": n_train,
            "validation_size": draw(st.none() | st.integers(1, 1000)),
            "test_size": draw(st.none() | st.integers(1, 1000)),
            "pixel_scale": draw(st.floats(1.0, 300.0)),
        },
        "instruments": {
            "probe_size": draw(st.integers(1, n_train)),
            "gradients": draw(st.booleans()),
            "gradients_every_steps": draw(st.none() | st.integers(1, 50)),
            "batch_stats": draw(st.booleans()),
            "batch_stats_every": draw(st.integers(1, 20)),
            "activations": draw(st.booleans()),
            "train_metrics": draw(st.sampled_from(["probe", "full", "none"])),
        },
        "output": {
            "runs_dir": draw(st.sampled_from(["runs", "out/runs", "/tmp/nnlab runs"])),
            "checkpoint_every": draw(st.integers(1, 10)),
        },
    }


@SETTINGS
@given(raw=configs())
def test_dump_then_load_is_the_identity(raw, tmp_path_factory):
    cfg = load_config(raw)
    text = dump_config(cfg)
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_text(text)
    again = load_config(str(path))
    assert again == cfg
    assert config_to_dict(again) == config_to_dict(cfg)
    assert dump_config(again) == text
    assert load_config(yaml.safe_load(text)) == cfg  # the parsed dict too


@SETTINGS
@given(raw=configs(), data_seed=st.integers(0, 1000))
def test_valid_configs_build_and_take_one_finite_step(raw, data_seed):
    cfg = load_config(raw)
    dtype = np.dtype(cfg.training.dtype)
    rng = np.random.default_rng(cfg.training.seed)
    net = build_network(cfg, rng, n_train=cfg.data.train_size)
    opt = build_optimizer(cfg)
    assert net.sizes == cfg.model.sizes and all(p.dtype == dtype for p in net.params.values())
    drng = np.random.default_rng(data_seed)
    n = min(cfg.training.batch_size, 16)
    X = drng.uniform(0, 1, (n, 784)).astype(dtype)
    y = drng.integers(0, 10, n)
    before = {k: p.copy() for k, p in net.params.items()}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # as in run_experiment
        try:
            state = train(net, opt, X, y, epochs=1, batch_size=n, rng=rng, clip_norm=cfg.regularization.clip_norm)
        except DivergedError:
            # only a huge unclipped step from an N(0, 1) ("large") start may blow up
            assume(False)
    assert state.step == 1
    assert all(np.isfinite(p).all() for p in net.params.values())
    assert all(p.dtype == dtype for p in net.params.values())
    assert all(np.isfinite(np.asarray(v)).all() for v in state.opt_state.values())
    with np.errstate(over="ignore", invalid="ignore"):
        loss, acc = net.evaluate(X, y)
    # A finite but huge first step (an N(0, 1) start, a large learning rate, no clipping) can leave
    # weights whose cost overflows float32 on the next evaluation; nnlab's epoch-end check ends such
    # a run as diverged (training.train: non-finite evaluation loss) and never records the inf. It
    # turned up once in a full-suite run; the properties below hold for every other step.
    assume(np.isfinite(loss))
    assert 0.0 <= acc <= 1.0
    if (
        cfg.model.init.weights.name in ("nielsen", "glorot_normal", "glorot_uniform")
        and cfg.model.output.name == "sigmoid"
    ):
        assert any(not np.array_equal(before[k], p) for k, p in net.params.items())  # it moved


ELEMENTWISE_HIDDEN = list(HIDDEN)
KINKED = {"relu", "leaky_relu", "prelu"}
H, TOL = 1e-5, 1e-5
COST_OUTPUTS = [("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")] + [("quadratic", out) for out in OUTPUTS]


@st.composite
def small_networks(draw):
    n_in = draw(st.integers(1, 4))
    hidden = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n_out = draw(st.integers(2, 4))
    acts = draw(st.lists(st.sampled_from(ELEMENTWISE_HIDDEN), min_size=len(hidden), max_size=len(hidden)))
    cost, out = draw(st.sampled_from(COST_OUTPUTS))
    return dict(
        sizes=[n_in, *hidden, n_out],
        activations=[*acts, out],
        cost=cost,
        reduction=draw(st.sampled_from(["sum", "mean"])),
        seed=draw(st.integers(0, 10_000)),
        l2=draw(st.sampled_from([0.0, 0.1])),
        weight_init=draw(st.sampled_from(["nielsen", "he", "glorot_uniform"])),
    )


@SETTINGS
@given(spec=small_networks(), data_seed=st.integers(0, 10_000))
def test_backprop_matches_central_differences_on_random_networks(spec, data_seed):
    net = build_net(
        spec["sizes"],
        spec["activations"],
        spec["cost"],
        reduction=spec["reduction"],
        seed=spec["seed"],
        l2=spec["l2"],
        weight_init=spec["weight_init"],
        dtype=np.float64,
    )
    rng = np.random.default_rng(data_seed)
    m, n_out = 5, spec["sizes"][-1]
    X = rng.standard_normal((m, spec["sizes"][0]))
    Y = one_hot(rng.integers(0, n_out, m), n_out, np.float64)
    net.forward(X)
    for layer in net.layers:  # a difference across a kink measures nothing
        if layer.activation.name in KINKED:
            assume(np.abs(layer.z).min() > 100 * H)
    _, analytic = net.loss_and_grads(X, Y)
    assert set(analytic) == set(net.params)
    for k, p in net.params.items():
        numeric = numerical_grad(lambda: net.loss(X, Y), p, h=H)
        err = rel_error(analytic[k], numeric)
        assert err < TOL or np.abs(analytic[k] - numeric).max() < 1e-9, f"{k}: {err:.2e} ({spec})"


# -- garbage in: a UserError, never a crash ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
KEY_PATHS = (
    [
        (section,)
        for section in ("name", "model", "optimizer", "regularization", "training", "data", "instruments", "output")
    ]
    + [("model", k) for k in ("sizes", "activation", "output", "cost", "cost_reduction", "init")]
    + [
        ("model", "init", "weights"),
        ("model", "init", "biases"),
        ("model", "activation", "name"),
        ("model", "activation", "slope"),
        ("model", "sizes", 1),
    ]
    + [("optimizer", k) for k in ("name", "learning_rate", "momentum", "rho", "delta", "nesterov")]
    + [("regularization", k) for k in ("l2", "dropout", "clip_norm")]
    + [("training", k) for k in ("epochs", "batch_size", "seed", "dtype", "early_stopping", "full_batch")]
    + [("data", k) for k in ("dataset", "split", "path", "train_size", "pixel_scale")]
    + [("instruments", k) for k in ("probe_size", "gradients", "gradients_every_steps", "train_metrics")]
    + [("output", k) for k in ("runs_dir", "checkpoint_every")]
)


def put(config: dict, path: tuple, value) -> None:
    """``config[path] = value``, replacing whatever is in the way by a container of the right kind."""
    node = config
    for key, next_key in zip(path[:-1], path[1:]):
        child = node[key] if isinstance(node, dict) and key in node else None
        if isinstance(next_key, int) and not (isinstance(child, list) and len(child) > next_key):
            child = node[key] = [784, 30, 10]
        elif isinstance(next_key, str) and not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


@settings(max_examples=int(os.environ.get("NNLAB_HYPOTHESIS_EXAMPLES", 150)), deadline=None)
@given(
    changes=st.lists(st.tuples(st.sampled_from(KEY_PATHS), json_values), min_size=1, max_size=3),
    overrides=st.lists(
        st.text(max_size=20)
        | st.builds(
            lambda path, value: (
                ".".join(str(k) if isinstance(k, str) else f"[{k}]" for k in path).replace(".[", "[") + "=" + value
            ),
            st.sampled_from(KEY_PATHS),
            st.text(max_size=20),
        ),
        max_size=3,
    ),
)
def test_any_garbage_in_a_config_is_a_user_error_never_a_crash(changes, overrides):
    from nnlab.config import Config
    from nnlab.errors import UserError

    raw = {
        "data": {"dataset": "mnist-mini", "train_size": 100},
        "instruments": {"probe_size": 50},
        "model": {"sizes": [784, 30, 10], "activation": {"name": "leaky_relu"}},
    }
    for path, value in changes:
        put(raw, path, value)
    try:
        cfg = load_config(raw, overrides)
    except UserError as err:
        assert err.lines and all(isinstance(line, str) and "\n" not in line for line in err.lines)
    else:
        assert isinstance(cfg, Config)
        assert load_config(yaml.safe_load(dump_config(cfg))) == cfg  # what loads also round-trips
