"""Damaged data files give a UserError, never a crash and never code execution.

Valid files (a pickle of numpy arrays as in Nielsen's mnist.pkl.gz, an IDX file)
are damaged at random (bytes flipped, cut short, bytes inserted) and read through
the same functions ``nnlab train`` uses.
"""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlab.data.mnist import read_idx
from nnlab.data.safe_pickle import safe_load_pickle
from nnlab.errors import UserError

SETTINGS = settings(
    max_examples=int(os.environ.get("NNLAB_HYPOTHESIS_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_X = np.arange(24, dtype=np.float32).reshape(4, 6) / 256
_Y = np.arange(4, dtype=np.int64)
PICKLES = {p: pickle.dumps(((_X, _Y), (_X, _Y)), protocol=p) for p in (0, 2, 4, 5)}
IDX = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (2, 3, 4)) + bytes(range(24))


@st.composite
def damaged(draw, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        i = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del out[i:]
        else:
            out[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


def loads_or_user_error(fn) -> None:
    try:
        fn()
    except UserError as err:
        assert err.lines and all("\n" not in line for line in err.lines)


@SETTINGS
@given(data=st.sampled_from(sorted(PICKLES)).flatmap(lambda p: damaged(PICKLES[p])))
def test_a_damaged_pickle_is_refused_or_loads_arrays(tmp_path, data):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(data, mtime=0))
    loads_or_user_error(lambda: safe_load_pickle(path))


@SETTINGS
@given(data=damaged(gzip.compress(PICKLES[2], mtime=0)))
def test_a_damaged_gzip_stream_is_refused(tmp_path, data):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(data)
    loads_or_user_error(lambda: safe_load_pickle(path))


@SETTINGS
@given(data=damaged(IDX), gz=st.booleans())
def test_a_damaged_idx_file_is_refused_or_reads_the_right_shape(tmp_path, data, gz):
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    try:
        X = read_idx(path, 2051, (2, 3, 4))
    except UserError as err:
        assert len(err.lines) == 1
    else:
        assert X.shape == (2, 3, 4) and X.dtype == np.uint8


_CHECKPOINT: dict[str, bytes] = {}


def a_checkpoint() -> bytes:
    """checkpoint.npz of a tiny real run (made once)."""
    if "bytes" not in _CHECKPOINT:
        import tempfile

        from nnlab.config import load_config
        from nnlab.experiment import run_experiment

        cfg = load_config(
            {
                "model": {"sizes": [784, 3, 10]},
                "training": {"epochs": 1, "batch_size": 10},
                "data": {"dataset": "mnist-mini", "train_size": 20, "validation_size": 10, "test_size": 10},
                "instruments": {"probe_size": 10},
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            result = run_experiment(cfg, runs_dir=tmp, display="quiet")
            _CHECKPOINT["bytes"] = (result.run_dir / "checkpoint" / "checkpoint.npz").read_bytes()
    return _CHECKPOINT["bytes"]


@SETTINGS
@given(data=st.data())
def test_a_damaged_checkpoint_is_refused_or_loads(tmp_path, data):
    from nnlab.rundir import RunDir

    damaged_bytes = data.draw(damaged(a_checkpoint()))
    run = RunDir(tmp_path)
    run.checkpoint_path.parent.mkdir(exist_ok=True)
    run.checkpoint_path.write_bytes(damaged_bytes)
    try:
        arrays, info = run.load_checkpoint()
    except UserError as err:
        assert len(err.lines) == 1
    else:
        assert isinstance(info, dict) and all(isinstance(a, np.ndarray) for a in arrays.values())
