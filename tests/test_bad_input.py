"""A corpus of bad input through the real command line, each with the exact message and exit code.

Every case runs ``nnlab train`` (or ``validate``) end to end in a fresh folder and
checks: exit code 2, the exact ``error: ...`` lines on stderr, no traceback, no
run directory that looks complete (no summary.json with status completed), and
for hostile input that the command it smuggled in did not run. A few cases also
run as real processes (``python -m nnlab``). test_config_errors.py holds the
config table at the load_config level; this corpus goes through the CLI.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nnlab import __version__
from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.data.mnist import IDX_FILES
from nnlab.experiment import run_experiment
from nnlab.initializers import INITIALIZERS
from nnlab.training import Hook

BASE = {
    "data": {"dataset": "mnist-mini", "train_size": 200, "validation_size": 50, "test_size": 50},
    "instruments": {"probe_size": 50},
    "training": {"epochs": 1},
}
TRAIN = ["train", "cfg.yaml", "--runs-dir", "runs", "-q"]
SECTIONS = "data, instruments, model, name, optimizer, output, regularization, training"
HIDDEN = "elu, gelu, gelu_tanh, identity, leaky_relu, prelu, relu, sigmoid, softplus, swish, tanh"
INITS = ", ".join(INITIALIZERS.names())  # every registered initializer, as the message lists them
FETCH = "delete it and run `nnlab data fetch mnist`"
HOW_TO_GET = (
    "run `nnlab data fetch mnist`, or set NNLAB_DATA (or data.path) to a folder holding the four IDX"
    " files or mnist.pkl.gz"
)
MARKER = "PWNED"  # hostile input tries to create this file
# nested aliases small enough to type: 20 x 20 x 20 x 20 = 160,000 values once expanded
BOMB = "name=[&a [{}], &b [{}], &c [{}], [{}]]".format(*(",".join([x] * 20) for x in ("0", "*a", "*b", "*c")))


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def config(**sections) -> Callable[[Path], list[str]]:
    """Setup: cfg.yaml = the small base config with ``sections`` merged in."""

    def setup(tmp: Path) -> list[str]:
        (tmp / "cfg.yaml").write_text(yaml.safe_dump(merged(BASE, sections), sort_keys=False))
        return TRAIN

    return setup


def text(yaml_text: str | bytes, args: list[str] = TRAIN) -> Callable[[Path], list[str]]:
    """Setup: cfg.yaml holds exactly ``yaml_text``."""

    def setup(tmp: Path) -> list[str]:
        path = tmp / "cfg.yaml"
        path.write_bytes(yaml_text) if isinstance(yaml_text, bytes) else path.write_text(yaml_text)
        return args

    return setup


def overrides(*sets: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        config()(tmp)
        return [*TRAIN, *[a for s in sets for a in ("--set", s)]]

    return setup


def args_only(*args: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        config()(tmp)
        return list(args)

    return setup


# -- data files -----------------------------------------------------------------------

_IDX_CACHE: dict[str, bytes] = {}


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + payload


def fake_idx_folder(folder: Path) -> None:
    """The four IDX files with MNIST's structure but blank images and labels (not the real data)."""
    folder.mkdir()
    for stem, (magic, dims) in IDX_FILES.items():
        if stem not in _IDX_CACHE:
            n = 1
            for d in dims:
                n *= d
            _IDX_CACHE[stem] = gzip.compress(idx_bytes(magic, dims, bytes(n)), compresslevel=1, mtime=0)
        (folder / f"{stem}.gz").write_bytes(_IDX_CACHE[stem])


MNIST_AT_D = {"data": {"dataset": "mnist", "path": "d"}}


def idx_case(damage: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        fake_idx_folder(tmp / "d")
        damage(tmp / "d" / "train-images-idx3-ubyte.gz")
        return config(**MNIST_AT_D)(tmp)

    return setup


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


class Hostile:
    """Unpickled by plain pickle, this runs ``touch PWNED``."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def pickle_case(payload: bytes) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        (tmp / "d").mkdir()
        (tmp / "d" / "mnist.pkl.gz").write_bytes(payload)
        return config(**MNIST_AT_D)(tmp)

    return setup


# -- run directories given to --resume ------------------------------------------------


def fake_run(meta: object, raw: str | None = None) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        run = tmp / "runs" / "old"
        run.mkdir(parents=True)
        (run / "meta.json").write_text(raw if raw is not None else json.dumps(meta))
        return ["train", "--resume", "runs/old"]

    return setup


_INTERRUPTED: dict[str, Path] = {}


class _StopAfterFirstEpoch(Hook):
    def on_epoch_end(self, state):
        raise KeyboardInterrupt


def interrupted_run(damage: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    """A real run interrupted after epoch 1 (made once, copied), then ``damage``d."""

    def setup(tmp: Path) -> list[str]:
        if "run" not in _INTERRUPTED:
            where = Path(os.environ["NNLAB_TEST_CACHE"]) / "interrupted"
            with pytest.raises(KeyboardInterrupt):
                run_experiment(
                    load_config(merged(BASE, {"training": {"epochs": 3}})),
                    runs_dir=where,
                    display="quiet",
                    hooks=[_StopAfterFirstEpoch()],
                )
            (_INTERRUPTED["run"],) = where.iterdir()
        run = tmp / "runs" / "old"
        shutil.copytree(_INTERRUPTED["run"], run)
        damage(run)
        return ["train", "--resume", "runs/old"]

    return setup


def write_file(rel: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: (run / rel).write_bytes(data)


def edit_config(run: Path) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["sizes"] = [784, 20, 10]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))


CK = "runs/old/checkpoint/checkpoint.npz"

# (id, setup(tmp) -> CLI args, the exact stderr lines)
CASES: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    # -- the YAML itself
    (
        "yaml-bad-indentation",
        text("model:\n  sizes: [784, 30, 10]\n   cost: quadratic\n"),
        ["cfg.yaml: line 3, column 4: malformed YAML: expected <block end>, but found '<block mapping start>'"],
    ),
    (
        "yaml-unclosed-list",
        text("model:\n  sizes: [784, 30\ntraining: {}\n"),
        ["cfg.yaml: line 3, column 9: malformed YAML: expected ',' or ']', but got ':'"],
    ),
    (
        "yaml-tab-indent",
        text("\tmodel: {}\n"),
        ["cfg.yaml: line 1, column 1: malformed YAML: found character '\\t' that cannot start any token"],
    ),
    (
        "yaml-duplicate-key",
        text("training:\n  epochs: 1\ntraining:\n  epochs: 2\n"),
        ["cfg.yaml: line 3, column 1: duplicate key 'training'; each key may appear once"],
    ),
    ("yaml-not-utf8", text(b"name: caf\xe9\n"), ["cfg.yaml: cannot read: not UTF-8 text"]),
    (
        "yaml-top-level-list",
        text("- model\n- training\n"),
        [f"cfg.yaml: got ['model', 'training'] at the top level; must be a mapping with keys: {SECTIONS}"],
    ),
    (
        "yaml-python-apply-os-system",
        text(f'name: !!python/object/apply:os.system ["touch {MARKER}"]\n'),
        [
            "cfg.yaml: line 1, column 7: tag '!!python/object/apply:os.system' is not allowed; configs hold plain values only"
        ],
    ),
    (
        "yaml-python-object-new-popen",
        text(f"model: !!python/object/new:subprocess.Popen [[touch, {MARKER}]]\n"),
        [
            "cfg.yaml: line 1, column 8: tag '!!python/object/new:subprocess.Popen' is not allowed;"
            " configs hold plain values only"
        ],
    ),
    (
        "yaml-python-name",
        text("name: !!python/name:os.system\n"),
        ["cfg.yaml: line 1, column 7: tag '!!python/name:os.system' is not allowed; configs hold plain values only"],
    ),
    (
        "yaml-anchor-on-python-object",
        text(f'x: &cmd !!python/object/apply:os.system ["touch {MARKER}"]\nname: *cmd\n'),
        [
            "cfg.yaml: line 1, column 4: tag '!!python/object/apply:os.system' is not allowed; configs hold plain values only"
        ],
    ),
    (
        "yaml-custom-tag",
        text("name: !run quickstart\n"),
        ["cfg.yaml: line 1, column 7: tag '!run' is not allowed; configs hold plain values only"],
    ),
    (
        "yaml-recursive-alias",
        text("model:\n  sizes: &s [784, *s, 10]\n"),
        ["cfg.yaml: line 2, column 19: alias '*s' is inside the value it names; configs cannot contain themselves"],
    ),
    (
        "yaml-recursive-mapping-alias",
        text("model: &m\n  init: *m\n"),
        ["cfg.yaml: line 2, column 9: alias '*m' is inside the value it names; configs cannot contain themselves"],
    ),
    (
        # "billion laughs": nine levels of nine aliases, 387 million values once expanded; refused as it is read
        "yaml-billion-laughs",
        text(
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
        ),
        [
            "cfg.yaml: line 6, column 8: alias '*e' expands the document past 100,000 values"
            " (aliases nested in aliases); configs are far smaller"
        ],
    ),
    (
        "yaml-undefined-alias",
        text("model:\n  sizes: *nowhere\n"),
        ["cfg.yaml: line 2, column 10: malformed YAML: found undefined alias 'nowhere'"],
    ),
    # -- the file and the arguments
    ("config-missing", args_only("train", "nope.yaml"), ["nope.yaml: no such config file"]),
    (
        "config-not-given",
        args_only("train"),
        ["missing CONFIG: give a YAML config file or a shipped config's name, e.g. nnlab train quickstart"],
    ),
    ("validate-missing-and-bad", args_only("validate", "nope.yaml"), ["nope.yaml: no such config file"]),
    # -- wrong types
    (
        "sizes-a-string",
        config(model={"sizes": "784,30,10"}),
        ["cfg.yaml: model.sizes: got '784,30,10'; must be a list of at least 2 layer sizes (input and output)"],
    ),
    (
        "sizes-a-boolean-entry",
        config(model={"sizes": [784, True, 10]}),
        ["cfg.yaml: model.sizes[1]: got true; must be an integer >= 1"],
    ),
    (
        "epochs-a-word",
        config(training={"epochs": "ten"}),
        ["cfg.yaml: training.epochs: got 'ten'; must be an integer >= 0"],
    ),
    (
        "batch-size-fractional",
        config(training={"batch_size": 1.5}),
        ["cfg.yaml: training.batch_size: got 1.5; must be an integer >= 1"],
    ),
    (
        "dropout-a-word",
        config(regularization={"dropout": "half"}),
        ["cfg.yaml: regularization.dropout: got 'half'; must be a number in [0, 1)"],
    ),
    (
        "l2-a-list",
        config(regularization={"l2": [1]}),
        ["cfg.yaml: regularization.l2: got [1]; must be a finite number >= 0"],
    ),
    (
        "dtype-float16",
        config(training={"dtype": "float16"}),
        ["cfg.yaml: training.dtype: got 'float16'; must be one of: float32, float64 (did you mean 'float64'?)"],
    ),
    (
        "activation-name-a-list",
        config(model={"activation": {"name": ["relu"]}}),
        [f"cfg.yaml: model.activation.name: got ['relu']; must be one of: {HIDDEN}"],
    ),
    (
        "optimizer-name-a-list",
        config(optimizer={"name": ["adam"]}),
        ["cfg.yaml: optimizer.name: got ['adam']; must be one of: adagrad, adam, momentum, rmsprop, sgd"],
    ),
    (
        "newline-and-escape-in-a-key",
        config(model={"init": {"weights": {"name": "he", "x\n\x1b[2J": 1}}}),
        ["cfg.yaml: model.init.weights.x\\n\\x1b[2J: not a parameter of 'he'; he takes no parameters"],
    ),
    (
        "newline-in-a-set-string",
        overrides("training.epochs\nrm -rf"),
        ["--set training.epochs\\nrm -rf: expected key.path=value"],
    ),
    (
        "section-a-list",
        config(training=[1, 2]),
        [
            "cfg.yaml: training: got [1, 2]; must be a mapping with keys: batch_size, dtype, early_stopping, epochs,"
            " full_batch, seed"
        ],
    ),
    # -- negative or zero sizes
    (
        "layer-of-zero-units",
        config(model={"sizes": [784, 0, 10]}),
        ["cfg.yaml: model.sizes[1]: got 0; must be an integer >= 1"],
    ),
    (
        "layer-of-negative-units",
        config(model={"sizes": [784, -5, 10]}),
        ["cfg.yaml: model.sizes[1]: got -5; must be an integer >= 1"],
    ),
    (
        "epochs-negative",
        config(training={"epochs": -1}),
        ["cfg.yaml: training.epochs: got -1; must be an integer >= 0"],
    ),
    ("seed-negative", config(training={"seed": -1}), ["cfg.yaml: training.seed: got -1; must be an integer >= 0"]),
    (
        "train-size-zero",
        config(data={"train_size": 0}),
        ["cfg.yaml: data.train_size: got 0; must be an integer >= 1 or null"],
    ),
    (
        "batch-size-zero",
        config(training={"batch_size": 0}),
        ["cfg.yaml: training.batch_size: got 0; must be an integer >= 1"],
    ),
    (
        # refused before anything is allocated (NNLAB_MEMORY_LIMIT=16G here: see in_tmp). 795,000,000,010
        # float32 parameters are 3.18 TB; gradients and the L2 buffer twice that; the largest working set
        # is the layers' own copy of θ while it is built (probe: 50 rows x 5e9 values x 4 B = 1.0 TB); the
        # initial weights (instruments.distance): twice the first layer's 785,000,000,000 values x 4 B = 6.28 TB
        "network-too-large-for-memory",
        config(model={"sizes": [784, 1_000_000_000, 10]}),
        [
            "cfg.yaml: model.sizes: the run needs about 19.0 TB (parameters 3.2 TB, gradients 6.4 TB,"
            " activations 3.2 TB, data 6.4 MB, initial weights 6.3 TB, Python 60.0 MB); NNLAB_MEMORY_LIMIT"
            " allows 16.0 GB"
        ],
    ),
    # -- empty layer list
    (
        "sizes-empty",
        config(model={"sizes": []}),
        ["cfg.yaml: model.sizes: got []; must list at least 2 layer sizes (input and output)"],
    ),
    (
        "sizes-only-the-input",
        config(model={"sizes": [784]}),
        ["cfg.yaml: model.sizes: got [784]; must list at least 2 layer sizes (input and output)"],
    ),
    # -- unknown names (the valid ones listed)
    (
        "unknown-activation",
        config(model={"activation": "sigmod"}),
        [f"cfg.yaml: model.activation: unknown activation 'sigmod'; valid: {HIDDEN} (did you mean 'sigmoid'?)"],
    ),
    (
        "unknown-optimizer",
        config(optimizer={"name": "lbfgs"}),
        ["cfg.yaml: optimizer.name: unknown optimizer 'lbfgs'; valid: adagrad, adam, momentum, rmsprop, sgd"],
    ),
    (
        "unknown-dataset",
        config(data={"dataset": "cifar10"}),
        ["cfg.yaml: data.dataset: unknown dataset 'cifar10'; valid: csv, fashion-mnist, mnist, mnist-mini, npz"],
    ),
    (
        "unknown-cost",
        config(model={"cost": "hinge"}),
        ["cfg.yaml: model.cost: unknown cost 'hinge'; valid: cross_entropy, log_likelihood, quadratic"],
    ),
    (
        "unknown-initializer",
        config(model={"init": {"weights": "xavier"}}),
        [f"cfg.yaml: model.init.weights: unknown initializer 'xavier'; valid: {INITS} (did you mean 'glorot_normal'?)"],
    ),
    (
        "cost-does-not-match-output",
        config(model={"output": "softmax"}),
        [
            "cfg.yaml: model.output: 'softmax' does not work with cost 'cross_entropy'; cross_entropy needs output: sigmoid"
        ],
    ),
    # -- unknown keys (the nearest suggested)
    (
        "unknown-key-nearest",
        config(training={"epoch": 3}),
        ["cfg.yaml: training.epoch: unknown key; did you mean 'epochs'?"],
    ),
    (
        "unknown-section-nearest",
        config(optimiser={"name": "adam"}),
        ["cfg.yaml: optimiser: unknown key; did you mean 'optimizer'?"],
    ),
    # -- sizes against the data
    (
        "batch-larger-than-the-data",
        config(training={"batch_size": 500}),
        ["cfg.yaml: training.batch_size: got 500; must be at most 200, the training-set size (data.train_size)"],
    ),
    (
        "probe-larger-than-the-data",
        config(instruments={"probe_size": 300}),
        ["cfg.yaml: instruments.probe_size: got 300; must be at most 200, the training-set size (data.train_size)"],
    ),
    (
        "input-size-not-the-images",
        config(model={"sizes": [100, 30, 10]}),
        ["cfg.yaml: model.sizes[0]: got 100; must be 784 (the pixels of one mnist-mini image)"],
    ),
    # -- learning rates
    (
        "learning-rate-zero",
        config(optimizer={"learning_rate": 0}),
        ["cfg.yaml: optimizer.learning_rate: got 0; must be a finite number > 0"],
    ),
    (
        "learning-rate-nan",
        text(yaml.safe_dump(BASE) + "optimizer:\n  learning_rate: .nan\n"),
        ["cfg.yaml: optimizer.learning_rate: got nan; must be a finite number > 0"],
    ),
    (
        "learning-rate-negative",
        config(optimizer={"learning_rate": -0.1}),
        ["cfg.yaml: optimizer.learning_rate: got -0.1; must be a finite number > 0"],
    ),
    (
        "learning-rate-infinite",
        text(yaml.safe_dump(BASE) + "optimizer:\n  learning_rate: .inf\n"),
        ["cfg.yaml: optimizer.learning_rate: got inf; must be a finite number > 0"],
    ),
    # -- --set and --name
    (
        "set-bad-path",
        overrides("model.sizez=[784,10]"),
        ["--set model.sizez=[784,10]: unknown key 'model.sizez'; did you mean 'model.sizes'?"],
    ),
    ("set-no-equals", overrides("training.epochs"), ["--set training.epochs: expected key.path=value"]),
    (
        "set-index-out-of-range",
        overrides("model.sizes[7]=3"),
        ["--set model.sizes[7]=3: index 7 is out of range; model.sizes has 3 entries"],
    ),
    (
        "set-python-tag",
        overrides(f"name=!!python/object/apply:os.system [touch {MARKER}]"),
        [
            f"--set name=!!python/object/apply:os.system [touch {MARKER}]: tag '!!python/object/apply:os.system'"
            " is not allowed; configs hold plain values only"
        ],
    ),
    (
        "set-recursive-alias",
        overrides("model.sizes=&s [784, *s]"),
        ["--set model.sizes=&s [784, *s]: alias '*s' is inside the value it names; configs cannot contain themselves"],
    ),
    (
        "set-alias-bomb",
        overrides(BOMB),
        [
            f"--set {BOMB}: alias '*c' expands the document past 100,000 values (aliases nested in aliases);"
            " configs are far smaller"
        ],
    ),
    (
        "set-bad-value",
        overrides("training.epochs=-3"),
        ["--set training.epochs=-3: training.epochs: got -3; must be an integer >= 0"],
    ),
    (
        "name-with-a-slash",
        lambda tmp: [*config()(tmp), "--name", "../escape"],
        [
            "--set name=../escape: name: got '../escape'; must be 1-64 letters, digits, '.', '_' or '-', starting with"
            " a letter or digit (it names the run folder)"
        ],
    ),
    # -- data files
    (
        "mnist-not-present",
        config(data={"dataset": "mnist"}),
        ["MNIST not found: {tmp}/empty is not a folder; " + HOW_TO_GET],
    ),
    (
        "data-path-not-a-folder",
        config(data={"dataset": "mnist", "path": "nowhere"}),
        ["MNIST not found: nowhere is not a folder; " + HOW_TO_GET],
    ),
    (
        "idx-truncated-gzip",
        idx_case(cut_in_half),
        [
            "d/train-images-idx3-ubyte.gz is truncated or corrupt: bad gzip data (Compressed file ended before the"
            f" end-of-stream marker was reached); {FETCH}"
        ],
    ),
    (
        "idx-wrong-magic",
        idx_case(lambda p: p.write_bytes(gzip.compress(idx_bytes(2049, (60000, 28, 28), bytes(10))))),
        [f"d/train-images-idx3-ubyte.gz is truncated or corrupt: magic number 2049, expected 2051; {FETCH}"],
    ),
    (
        "idx-short-payload",
        idx_case(lambda p: p.write_bytes(gzip.compress(idx_bytes(2051, (60000, 28, 28), bytes(10))))),
        [
            f"d/train-images-idx3-ubyte.gz is truncated or corrupt: 10 bytes of data after the header, expected 47040000;"
            f" {FETCH}"
        ],
    ),
    (
        "idx-wrong-checksum",
        idx_case(lambda p: None),
        [
            "d/train-images-idx3-ubyte.gz is truncated or corrupt: sha256 of the payload is ba2048faa0242d85...,"
            f" expected ba891046e6505d7a... (the official file); {FETCH}"
        ],
    ),
    (
        "idx-an-html-page",
        idx_case(lambda p: p.write_bytes(b"<html>404 Not Found</html>")),
        [f"d/train-images-idx3-ubyte.gz is truncated or corrupt: bad gzip data (Not a gzipped file (b'<h')); {FETCH}"],
    ),
    (
        "hostile-pickle",
        pickle_case(gzip.compress(pickle.dumps(Hostile()))),
        [f"refusing to unpickle {os.system.__module__}.system from d/mnist.pkl.gz: only numpy arrays are allowed"],
    ),
    (
        "hostile-pickle-protocol-0",
        pickle_case(gzip.compress(pickle.dumps(Hostile(), protocol=0))),
        [f"refusing to unpickle {os.system.__module__}.system from d/mnist.pkl.gz: only numpy arrays are allowed"],
    ),
    (
        "pickle-not-gzip",
        pickle_case(b"not gzip at all"),
        [
            "d/mnist.pkl.gz is truncated or corrupt: BadGzipFile: Not a gzipped file (b'no'); delete it (or run"
            " `nnlab data fetch mnist` for the IDX files)"
        ],
    ),
    # -- the runs folder
    (
        "runs-folder-under-a-file",
        lambda tmp: [*config()(tmp)[:2], "--runs-dir", "afile.txt/sub"],
        ["afile.txt/sub: cannot create the runs folder (Not a directory)"],
    ),
    (
        "runs-folder-under-a-file-in-config",
        lambda tmp: config(output={"runs_dir": "afile.txt/runs"})(tmp)[:2],
        ["afile.txt/runs: cannot create the runs folder (Not a directory)"],
    ),
    # -- --resume
    (
        "resume-incompatible-format",
        fake_run({"format": 99, "status": "interrupted"}),
        [f"runs/old: run directory format 99; this nnlab ({__version__}) reads format 1 only"],
    ),
    (
        "resume-completed-without-checkpoint",
        fake_run({"format": 1, "status": "completed"}),
        ["runs/old: run already completed; nothing to resume"],
    ),
    (
        "resume-half-written-meta",
        fake_run(None, raw='{"format": 1, "sta'),
        ["runs/old/meta.json: unreadable (Unterminated string starting at: line 1 column 15 (char 14))"],
    ),
    ("resume-meta-not-an-object", fake_run(None, raw="[1, 2]"), ["runs/old/meta.json: unreadable (not a JSON object)"]),
    (
        "resume-folder-killed-while-being-made",
        lambda tmp: (
            (tmp / "runs" / "old").mkdir(parents=True)
            or (tmp / "runs" / "old" / "config.yaml").write_text("{}")
            and ["train", "--resume", "runs/old"]
        ),
        [
            "runs/old: run stopped while its folder was being made (no meta.json); nothing was trained: delete the folder"
            " and start the run again"
        ],
    ),
    (
        "resume-not-a-run",
        lambda tmp: (tmp / "runs").mkdir() or ["train", "--resume", "runs"],
        ["runs: not a run directory (no meta.json)"],
    ),
    (
        "resume-with-a-config",
        lambda tmp: config()(tmp)[:2] + ["--resume", "runs"],
        ["--resume RUN_DIR takes no CONFIG, --set, --name, --tensorboard or --smoke: the run keeps its own config"],
    ),
    (
        "resume-truncated-checkpoint",
        interrupted_run(lambda run: cut_in_half(run / "checkpoint" / "checkpoint.npz")),
        [f"{CK}: unreadable checkpoint (File is not a zip file); remove it to start the run over"],
    ),
    (
        "resume-checkpoint-not-npz",
        interrupted_run(write_file("checkpoint/checkpoint.npz", pickle.dumps(Hostile()))),
        [f"{CK}: unreadable checkpoint (not an .npz file); remove it to start the run over"],
    ),
    (
        "resume-checkpoint-does-not-fit-config",
        interrupted_run(edit_config),
        [f"{CK}: does not fit the run's config.yaml (checkpoint: W1 has shape (784, 30), network has (784, 20))"],
    ),
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NNLAB_MEMORY_LIMIT", "16G")  # the memory guard's message, whatever this machine has
    monkeypatch.setenv("NNLAB_TEST_CACHE", str(tmp_path_factory.getbasetemp()))
    (tmp_path / "afile.txt").write_text("a file, not a folder\n")
    return tmp_path


def completed_runs(root: Path) -> list[Path]:
    out = []
    for summary in root.rglob("summary.json"):
        if json.loads(summary.read_text()).get("status") == "completed":
            out.append(summary.parent)
    return out


def check_refused(tmp: Path, result_code: int, stderr: str, expected: list[str], args: list[str]) -> None:
    assert "Traceback" not in stderr
    assert result_code == 2, stderr
    assert stderr.splitlines() == [f"error: {line.format(tmp=tmp)}" for line in expected]
    assert not (tmp / MARKER).exists(), "hostile input ran a command"
    assert completed_runs(tmp) == []
    if "--resume" not in args:  # refused before any run folder exists
        assert not (tmp / "runs").exists() or not any((tmp / "runs").iterdir())


def test_the_corpus_has_at_least_40_cases():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("setup, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_its_exact_message(in_tmp: Path, setup, expected):
    args = setup(in_tmp)
    result = CliRunner().invoke(cli, args, prog_name="nnlab")
    assert not result.exception or isinstance(result.exception, SystemExit), repr(result.exception)
    check_refused(in_tmp, result.exit_code, result.stderr, expected, args)


# the same end to end in real processes, for a few
IN_PROCESS = [
    "yaml-python-apply-os-system",
    "hostile-pickle",
    "config-missing",
    "resume-incompatible-format",
    "learning-rate-nan",
    "set-bad-path",
    "yaml-recursive-alias",
    "yaml-billion-laughs",
    "network-too-large-for-memory",
]


@pytest.mark.parametrize("case_id", IN_PROCESS)
def test_bad_input_in_a_real_process(in_tmp: Path, case_id: str):
    (setup, expected) = next(c[1:] for c in CASES if c[0] == case_id)
    args = setup(in_tmp)
    out = subprocess.run([sys.executable, "-m", "nnlab", *args], capture_output=True, text=True, timeout=120)
    check_refused(in_tmp, out.returncode, out.stderr, expected, args)
    assert out.stdout == ""


def test_click_usage_errors_exit_2_without_a_traceback(in_tmp: Path):
    config()(in_tmp)
    for args, last in [
        (
            ["train", "cfg.yaml", "--runs-dir", "afile.txt"],
            "Error: Invalid value for '--runs-dir': Directory 'afile.txt' is a file.",
        ),
        (["train", "."], "Error: Invalid value for '[CONFIG]': File '.' is a directory."),
        (["train", "cfg.yaml", "--bogus"], "Error: No such option '--bogus'."),
    ]:
        result = CliRunner().invoke(cli, args, prog_name="nnlab")
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert result.stderr.splitlines()[0] == "Usage: nnlab train [OPTIONS] [CONFIG]"
        assert result.stderr.splitlines()[-1] == last
    assert completed_runs(in_tmp) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions (the under-a-file cases cover root)")
def test_an_unwritable_runs_folder_is_refused(in_tmp: Path):
    config()(in_tmp)
    (in_tmp / "runs").mkdir()
    os.chmod(in_tmp / "runs", 0o500)
    try:
        result = CliRunner().invoke(cli, TRAIN, prog_name="nnlab")
    finally:
        os.chmod(in_tmp / "runs", 0o700)
    check_refused(
        in_tmp,
        result.exit_code,
        result.stderr,
        ["runs: cannot create a run folder there (Permission denied)"],
        ["--resume"],
    )
    assert not any((in_tmp / "runs").iterdir())


def test_the_hostile_inputs_would_have_run_a_command(in_tmp: Path):
    """The marker check means something: plain pickle does run the hostile payload."""
    pickle.loads(pickle.dumps(Hostile()))
    assert (in_tmp / MARKER).exists()
