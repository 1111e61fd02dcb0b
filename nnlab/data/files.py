"""The user's own data: arrays in an ``.npz`` file or a table in ``.csv`` files.

npz (``np.savez``; never unpickled): ``X_train``, ``y_train`` and, when the
file has them, ``X_validation``/``y_validation`` and ``X_test``/``y_test``
(``x_`` in lower case is read too, as Keras' ``mnist.npz`` writes it). One
example of ``X`` is a flat vector ``(n, d)``, a grey image ``(n, H, W)`` or an
image with channels first ``(n, C, H, W)``.

csv: a header row, then one example per row: the label column
(``data.label_column``, default ``label``) and the feature columns.
``data.validation_path`` and ``data.test_path`` name CSV files with the same
columns for those parts.

A part the data does not hold is carved from the training examples at random:
``data.validation_fraction`` / ``data.test_fraction`` of them (0.1 each when
unset), the rows drawn by a Generator seeded with ``data.seed`` (0 when unset).

X stored as uint8 (npz) or holding only whole numbers 0..255 (csv) is taken as
raw pixels and divided by ``data.pixel_scale`` like MNIST's; other values are
used as they are. Labels are whole numbers; the classes are the distinct
training labels, which must be exactly 0..n-1. Anything else is refused in
one line naming the file, what was wrong and what is allowed.
"""

from __future__ import annotations

import math
import os
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.config.schema import FILE_KEYS
from nnlab.errors import UserError

PARTS = ("train", "validation", "test")
DEFAULT_FRACTION = 0.1
DEFAULT_LABEL_COLUMN = "label"


@dataclass(frozen=True)
class Parts:
    """What a file holds, checked: ``X[part]`` uint8 or float64 ``(n, d)``, ``y[part]`` int64 ``(n,)``.

    ``image``: one example as ``(channels, height, width)`` when the file gave images.
    ``carved``: the parts cut from the training examples, for the source line.
    """

    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    image: tuple[int, int, int] | None
    n_classes: int
    source: str


def _fail(path: Path | str, what: str) -> UserError:
    return UserError(f"{path}: {what}")


# -- reading -------------------------------------------------------------------------


def _npz_arrays(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, Path]]:
    """``{part: (X, y)}`` for the parts the npz file holds."""
    if not zipfile.is_zipfile(path):
        raise _fail(path, "not an npz file; data.dataset npz reads arrays saved with numpy.savez (a zip of .npy files)")
    found: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            for name in names:
                key = name[0].upper() + name[1:] if name[:1] == "x" else name
                if key not in {f"{a}_{p}" for a in "Xy" for p in PARTS}:
                    allowed = ", ".join(f"{a}_{p}" for p in PARTS for a in "Xy")
                    raise _fail(path, f"holds an array {name!r} nnlab does not read; the arrays are {allowed}")
                if key in found:
                    raise _fail(path, f"holds both x_ and X_ arrays for {key}; keep one")
                found[key] = npz[name]
    except UserError:
        raise
    except ValueError as err:  # object arrays, which only pickle could read
        if "allow_pickle" in str(err):
            raise _fail(
                path, "holds an array of Python objects; only arrays of numbers are read (never pickles)"
            ) from None
        raise _fail(path, f"cannot read it as npz ({err})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise _fail(path, f"cannot read it as npz ({err})") from None
    parts = {}
    for part in PARTS:
        X, y = found.get(f"X_{part}"), found.get(f"y_{part}")
        if X is None and y is None and part != "train":
            continue
        if X is None or y is None:
            missing, given = (f"X_{part}", f"y_{part}") if X is None else (f"y_{part}", f"X_{part}")
            why = "the training examples are required" if part == "train" else f"{given} needs it"
            raise _fail(path, f"has no array {missing} ({why}); it holds {', '.join(names) or 'no arrays'}")
        parts[part] = (X, y, path)
    return parts


def _csv_table(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float64 (n, d), labels float64 (n,), feature names) from one CSV file."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = f.readline()
    except UnicodeDecodeError:
        raise _fail(
            path, "not a CSV file (not UTF-8 text); data.dataset csv reads a header row and rows of numbers"
        ) from None
    columns = [c.strip().strip('"') for c in header.rstrip("\r\n").split(",")]
    if not header.strip() or len(columns) < 2:
        raise _fail(path, "needs a header row naming the label column and at least one feature column, comma-separated")
    if label_column not in columns:
        raise _fail(path, f"has no column {label_column!r} (data.label_column); its columns: {', '.join(columns[:12])}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": an empty part, said below
            table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2, encoding="utf-8")
    except ValueError as err:
        detail = str(err).split("; use", 1)[0].split("\n", 1)[0].rstrip(".")  # numpy's hints are for its own API
        raise _fail(path, f"{detail}; every row needs one number per column of the header") from None
    i = columns.index(label_column)
    features = [c for j, c in enumerate(columns) if j != i]
    if table.size == 0:  # a header and no rows: an empty part, said where the parts are checked
        return np.zeros((0, len(features))), np.zeros(0), features
    if table.shape[1] != len(columns):
        raise _fail(path, f"rows have {table.shape[1]} cells, the header {len(columns)} columns")
    return np.delete(table, i, axis=1), table[:, i], features


def _csv_arrays(path: Path, options: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray, Path]]:
    label_column = str(options.get("label_column") or DEFAULT_LABEL_COLUMN)
    X, y, features = _csv_table(path, label_column)
    parts = {"train": (X, y, path)}
    for part in ("validation", "test"):
        other = options.get(f"{part}_path")
        if other is None:
            continue
        other = _existing(other, f"data.{part}_path")
        X_p, y_p, names = _csv_table(other, label_column)
        if names != features:
            raise _fail(
                other, f"has columns {', '.join(names[:12])}; must have those of {path}: {', '.join(features[:12])}"
            )
        parts[part] = (X_p, y_p, other)
    # whole numbers 0..255 everywhere: raw pixels, scaled like MNIST's
    if all(_pixels(X_p) for X_p, _, _ in parts.values()):
        parts = {p: (X_p.astype(np.uint8), y_p, f) for p, (X_p, y_p, f) in parts.items()}
    return parts


def _pixels(X: np.ndarray) -> bool:
    return X.size > 0 and bool(np.all((X >= 0) & (X <= 255) & (X == np.floor(X))))


def _existing(path: Any, key: str) -> Path:
    path = Path(str(path)).expanduser()
    where = "" if key == "data.path" else f" ({key})"
    try:
        exists, is_file = path.exists(), path.is_file()
    except (OSError, ValueError) as err:  # a name too long, say
        raise UserError(f"{path}: cannot be read as a file{where} ({err})") from None
    if not exists:
        raise UserError(f"{path}: no such file{where}")
    if not is_file:
        raise UserError(f"{path}: not a file{where}; give the data file itself")
    return path


# -- checks -----------------------------------------------------------------------------


def _features(path: Path, part: str, X: np.ndarray) -> np.ndarray:
    """X as uint8 pixels or float64, refused unless numbers, finite, non-empty.

    (A CSV file's values are named as an npz file's are: X_train, y_test, ...)
    """
    name = f"X_{part}"
    if X.dtype.kind not in "biuf":
        raise _fail(path, f"{name} holds {X.dtype} values; X must hold numbers (uint8 pixels, integers or floats)")
    if X.ndim not in (2, 3, 4):
        raise _fail(
            path, f"{name} has shape {X.shape}; one example must be a vector (n, d), an image (n, H, W) or (n, C, H, W)"
        )
    if len(X) == 0:
        raise _fail(path, f"{name} has no examples; every part needs at least one")
    if math.prod(X.shape[1:]) == 0:
        raise _fail(path, f"{name} has shape {X.shape}; an example needs at least one value")
    if X.dtype == np.uint8:
        return X
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        value = X.reshape(len(X), -1)[row][~np.isfinite(X.reshape(len(X), -1)[row])][0]
        raise _fail(path, f"{name} holds {value} (example {row}); every value of X must be a finite number")
    return X


def _labels(path: Path, part: str, y: np.ndarray, n: int) -> np.ndarray:
    name = f"y_{part}"
    if y.ndim != 1:
        raise _fail(path, f"{name} has shape {y.shape}; labels must be one whole number per example, shape ({n},)")
    if len(y) != n:
        raise _fail(path, f"{name} has {len(y)} labels for the {n} examples of X_{part}; give one label per example")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.floor(y)))):
        if y.dtype.kind == "f":
            shown = f"{float(y[~(np.isfinite(y) & (y == np.floor(y)))][0]):g}"
        else:
            shown = f"{y.dtype} values"
        raise _fail(path, f"{name} holds {shown}; labels must be whole numbers 0..n-1 (n classes)")
    return y.astype(np.int64)


def _classes(paths: dict[str, Path], y: dict[str, np.ndarray]) -> int:
    """n: the training labels must be exactly 0..n-1 (n >= 2); the other parts' within them."""
    path = paths["train"]
    present = np.unique(y["train"])
    n = int(present[-1]) + 1
    if present[0] < 0 or len(present) != n or n < 2:
        shown = ", ".join(str(int(v)) for v in present[:12]) + (", ..." if len(present) > 12 else "")
        raise _fail(
            path,
            f"y_train labels are {shown}; the classes must be 0..n-1 (n >= 2), each with a training example",
        )
    for part in ("validation", "test"):
        if part in y:
            outside = y[part][(y[part] < 0) | (y[part] >= n)]
            if outside.size:
                raise _fail(paths[part], f"y_{part} holds label {int(outside[0])}; the training labels are 0..{n - 1}")
    return n


def _image(path: Path, X: dict[str, np.ndarray]) -> tuple[int, int, int] | None:
    shape = X["train"].shape[1:]
    for part, arr in X.items():
        if arr.shape[1:] != shape:
            raise _fail(path, f"X_{part} has examples of shape {arr.shape[1:]}; X_train's are {shape}, all must match")
    if len(shape) == 2:
        return (1, *shape)  # type: ignore[return-value]
    return tuple(shape) if len(shape) == 3 else None  # type: ignore[return-value]


def _fraction(options: Mapping[str, Any], part: str) -> float:
    value = options.get(f"{part}_fraction")
    return DEFAULT_FRACTION if value is None else float(value)


def _carve(path: Path, X: dict, y: dict, options: Mapping[str, Any]) -> list[str]:
    """Cut the missing validation/test parts from the training examples at random (seeded)."""
    missing = [p for p in ("validation", "test") if p not in X]
    for part in ("validation", "test"):
        if part not in missing and options.get(f"{part}_fraction") is not None:
            raise UserError(
                f"{path}: data.{part}_fraction is set but the data has its own {part} part;"
                f" leave data.{part}_fraction out (it only carves a part the data does not hold)"
            )
    if not missing:
        return []
    n = len(y["train"])
    counts = {p: int(round(_fraction(options, p) * n)) for p in missing}
    for part, k in counts.items():
        if k < 1:
            raise _fail(
                path,
                f"data.{part}_fraction {_fraction(options, part):g} of {n} training examples leaves an empty"
                f" {part} part; every part needs at least one example",
            )
    if sum(counts.values()) >= n:
        raise _fail(path, f"carving {' and '.join(missing)} from {n} training examples leaves none to train on")
    order = np.random.default_rng(int(options.get("seed") or 0)).permutation(n)
    start, carved = 0, []
    for part in missing:
        rows = np.sort(order[start : start + counts[part]])
        start += counts[part]
        X[part], y[part] = X["train"][rows], y["train"][rows]
        carved.append(f"{part} = {counts[part]} random training examples")
    keep = np.sort(order[start:])
    X["train"], y["train"] = X["train"][keep], y["train"][keep]
    return carved


def read_parts(kind: str, options: Mapping[str, Any]) -> Parts:
    """The checked parts of the ``kind`` ("npz" or "csv") data the data section ``options`` names.

    Cached per file (path, size, modification time) and options: a config
    check and the run that follows read the file once.
    """
    if options.get("path") is None:
        raise UserError(f"data.path: missing; data.dataset {kind} reads the file data.path names")
    path = _existing(options["path"], "data.path")
    stamp = []  # the files as they are now: a file changed since is read again
    for p in (path, *(options.get(f"{q}_path") for q in ("validation", "test"))):
        try:
            st = os.stat(Path(str(p)).expanduser()) if p is not None else None
        except (OSError, ValueError):
            st = None  # said when the file is opened
        stamp.append((str(p), st.st_size, st.st_mtime_ns) if st else None)
    key = tuple((k, options.get(k)) for k in FILE_KEYS)
    return _read_parts(kind, path, tuple(stamp), key)


@lru_cache(maxsize=4)
def _read_parts(kind: str, path: Path, stamp: tuple, key: tuple) -> Parts:
    options = dict(key)
    arrays = _npz_arrays(path) if kind == "npz" else _csv_arrays(path, options)
    X = {p: _features(f, p, X_p) for p, (X_p, _, f) in arrays.items()}
    y = {p: _labels(f, p, y_p, len(X[p])) for p, (_, y_p, f) in arrays.items()}
    image = _image(path, X)
    n_classes = _classes({p: f for p, (_, _, f) in arrays.items()}, y)
    carved = _carve(path, X, y, options)
    X = {p: X_p.reshape(len(X_p), -1) for p, X_p in X.items()}
    for arr in (*X.values(), *y.values()):
        arr.flags.writeable = False
    source = str(path) + (f" ({'; '.join(carved)})" if carved else "")
    return Parts(X, y, image, n_classes, source)
