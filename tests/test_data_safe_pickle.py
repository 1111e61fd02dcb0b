"""The restricted unpickler: numpy arrays load, anything else is refused unrun."""

from __future__ import annotations

import _codecs
import gzip
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nnlab.data.safe_pickle import safe_load_pickle
from nnlab.errors import UserError

pytestmark = pytest.mark.filterwarnings("error")


def write_pickle(path: Path, obj: object, protocol: int = 2) -> Path:
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


class _Touch:
    """Unpickling this with plain pickle would run ``callable(*args)``."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


# (callable, the name a protocol-3+ pickle gives it, the Python-2 name protocols 0-2 write)
HOSTILE = [
    (os.system, f"{os.system.__module__}.system", f"{os.system.__module__}.system"),
    (subprocess.call, "subprocess.call", "commands.call"),
    (exec, "builtins.exec", "__builtin__.exec"),
]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("fn, name, py2_name", HOSTILE, ids=["os.system", "subprocess.call", "exec"])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, fn, name, py2_name, protocol):
    marker = tmp_path / "pwned"
    arg = {
        os.system: f"touch {marker}",
        subprocess.call: ["touch", str(marker)],
        exec: f"open({str(marker)!r}, 'w').close()",
    }[fn]
    # hidden inside an otherwise plausible MNIST-like tuple
    path = write_pickle(tmp_path / "evil.pkl.gz", ((np.zeros(3, np.float32), _Touch(fn, arg)),), protocol)
    with pytest.raises(UserError) as err:
        safe_load_pickle(path)
    refused = py2_name if protocol < 3 else name
    assert str(err.value) == (f"refusing to unpickle {refused} from {path}: only numpy arrays are allowed")
    assert not marker.exists()


def test_the_hostile_pickle_does_run_under_plain_pickle(tmp_path):
    """The control for the test above: the marker would appear if the code ran."""
    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl.gz", _Touch(os.system, f"touch {marker}"))
    with gzip.open(path, "rb") as f:
        pickle.load(f)  # only ever on a file this test wrote itself
    assert marker.exists()


def test_the_bytes_helper_only_accepts_latin1(tmp_path):
    # protocol-2 numpy pickles call _codecs.encode(text, "latin1"); nothing else is allowed
    path = write_pickle(tmp_path / "codec.pkl.gz", _Touch(_codecs.encode, "ab", "rot13"))
    with pytest.raises(UserError, match=r"^refusing to unpickle _codecs.encode \(encoding 'rot13'\)"):
        safe_load_pickle(path)


def test_object_arrays_are_refused(tmp_path):
    path = write_pickle(tmp_path / "obj.pkl.gz", np.array([1, "a"], dtype=object))
    with pytest.raises(UserError) as err:
        safe_load_pickle(path)
    assert str(err.value) == (f"refusing to unpickle object array from {path}: only numpy arrays are allowed")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_round_trip_in_every_protocol(tmp_path, protocol):
    X = np.arange(12, dtype=np.float32).reshape(3, 4) / 256
    y = np.array([7, 2, 1], dtype=np.int64)
    path = write_pickle(tmp_path / "ok.pkl.gz", ((X, y), (X[:1], y[:1])), protocol)
    (X2, y2), (X3, y3) = safe_load_pickle(path)
    assert X2.dtype == np.float32 and y2.dtype == np.int64
    assert np.array_equal(X2, X) and np.array_equal(y2, y) and np.array_equal(y3, y[:1])


def test_a_truncated_pickle_is_a_user_error(tmp_path):
    path = write_pickle(tmp_path / "cut.pkl.gz", np.zeros(10000, np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=rf"^{path} is truncated or corrupt: "):
        safe_load_pickle(path)


def test_a_missing_pickle_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as err:
        safe_load_pickle(tmp_path / "absent.pkl.gz")
    assert str(err.value) == f"{tmp_path / 'absent.pkl.gz'} does not exist"
