"""A restricted unpickler for gzip'd pickles of numpy arrays (``mnist.pkl.gz``).

``pickle.load`` runs whatever callable the file names, so a downloaded pickle
is code. ``safe_load_pickle`` resolves only the handful of globals numpy needs
to rebuild plain arrays; any other global is refused *before* it is called.
"""

from __future__ import annotations

import gzip
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.errors import UserError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct


class _Refused(Exception):
    """Raised while unpickling; carries what was refused (``module.name``)."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, latin-1 only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode (encoding {encoding!r})")
    return text.encode("latin1")


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """What numpy's protocol-5 pickles call: a copy of ``buf`` as an array."""
    return np.frombuffer(bytes(buf), dtype=np.dtype(dtype)).reshape(shape, order=order)


# (module, name) -> the object handed to the unpickler. numpy 1.x pickles name
# ``numpy.core``, numpy 2.x ``numpy._core``; both map to the real functions so
# numpy's deprecated ``numpy.core`` shim is never imported.
_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"persistent id {pid!r}")


def _check_plain(obj: Any, path: Path) -> None:
    """Only tuples/lists of non-object arrays may come out."""
    if isinstance(obj, (tuple, list)):
        for item in obj:
            _check_plain(item, path)
    elif not isinstance(obj, np.ndarray) or obj.dtype.hasobject:
        what = type(obj).__name__ if not isinstance(obj, np.ndarray) else "object array"
        raise UserError(f"refusing to unpickle {what} from {path}: only numpy arrays are allowed")


def safe_load_pickle(path: str | Path) -> Any:
    """Load a gzip'd pickle that holds only (nested tuples of) numpy arrays.

    Python 2 pickles (the original ``mnist.pkl.gz``) load too: their byte
    strings are read as latin-1, which numpy turns back into array data.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as raw, io.BufferedReader(raw, 1 << 20) as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except _Refused as refused:
        raise UserError(f"refusing to unpickle {refused} from {path}: only numpy arrays are allowed") from None
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except Exception as err:  # noqa: BLE001 - any failure decoding an untrusted file means it is damaged
        # (e.g. MemoryError: a damaged length field asks for gigabytes; SystemError from
        # numpy rebuilding an array from a damaged state)
        detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise UserError(
            f"{path} is truncated or corrupt: {detail}; delete it (or run `nnlab data fetch mnist` for the IDX files)"
        ) from None
    _check_plain(obj, path)
    return obj
