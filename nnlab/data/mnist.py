"""MNIST on disk: the four official IDX files, Nielsen's ``mnist.pkl.gz``, and
the small subset embedded in the package (``mnist-mini.npz``); Fashion-MNIST's
four IDX files, in the same format (``nnlab.data.sources`` says which).

Everything here returns raw arrays: images uint8 ``(n, 784)``, labels int64
``(n,)``. Splitting into train / validation / test (and making the arrays
read-only) happens in ``nnlab.data.datasets``.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from nnlab.data.safe_pickle import safe_load_pickle
from nnlab.data.sources import MNIST, IdxSource
from nnlab.errors import UserError

Arrays = tuple[np.ndarray, np.ndarray]  # (X uint8 (n, 784), y int64 (n,))

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
N_TRAIN, N_TEST, N_PIXELS = 60_000, 10_000, 784
# file stem -> (magic number, dimensions): what a genuine MNIST IDX file holds
IDX_FILES: dict[str, tuple[int, tuple[int, ...]]] = {
    "train-images-idx3-ubyte": (IMAGES_MAGIC, (N_TRAIN, 28, 28)),
    "train-labels-idx1-ubyte": (LABELS_MAGIC, (N_TRAIN,)),
    "t10k-images-idx3-ubyte": (IMAGES_MAGIC, (N_TEST, 28, 28)),
    "t10k-labels-idx1-ubyte": (LABELS_MAGIC, (N_TEST,)),
}
PICKLE_NAME = "mnist.pkl.gz"
MINI_PATH = Path(__file__).with_name("mnist-mini.npz")
MINI_PARTS = ("train", "validation", "test")
HOW_TO_GET = (
    "run `nnlab data fetch mnist`, or set NNLAB_DATA (or data.path) to a folder"
    " holding the four IDX files or mnist.pkl.gz"
)


def how_to_get(source: IdxSource) -> str:
    if source is MNIST:
        return HOW_TO_GET
    return (
        f"run `nnlab data fetch {source.name}`, or set NNLAB_DATA (or data.path) to a folder"
        f" whose {source.fetch_folder}/ holds its four IDX .gz files"
    )


def _corrupt(path: Path, detail: str, source: IdxSource = MNIST) -> UserError:
    return UserError(f"{path} is truncated or corrupt: {detail}; delete it and run `nnlab data fetch {source.name}`")


def read_idx(path: str | Path, magic: int, shape: tuple[int, ...], source: IdxSource = MNIST) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into a uint8 array of ``shape``.

    Checks the magic number, the dimensions and that the payload is exactly
    ``prod(shape)`` bytes, so a truncated download never loads half a dataset.
    """
    path = Path(path)
    return _parse_idx(path, _read_bytes(path), magic, shape, source)[0]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror or err}") from None


def _parse_idx(
    path: Path, raw: bytes, magic: int, shape: tuple[int, ...], source: IdxSource = MNIST
) -> tuple[np.ndarray, bytes]:
    """``read_idx`` on the bytes ``raw`` read from ``path``: the array and the uncompressed file bytes."""
    data = raw
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise _corrupt(path, f"bad gzip data ({err})", source) from None
    header = 4 + 4 * len(shape)
    if len(data) < header:
        raise _corrupt(path, f"{len(data)} bytes, shorter than the {header}-byte IDX header", source)
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise _corrupt(path, f"magic number {found}, expected {magic}", source)
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", len(shape), 4))
    if dims != shape:
        raise _corrupt(path, f"dimensions {dims}, expected {shape}", source)
    payload, expected = len(data) - header, int(np.prod(shape))
    if payload != expected:
        raise _corrupt(path, f"{payload} bytes of data after the header, expected {expected}", source)
    return np.frombuffer(data, np.uint8, expected, header).reshape(shape), data


def idx_path(folder: Path, stem: str, source: IdxSource = MNIST) -> Path | None:
    """``folder/stem.gz`` or the uncompressed ``folder/stem``, whichever exists.

    A source verified by its .gz files' hashes is read from the .gz only.
    """
    candidates = [folder / f"{stem}.gz"] + ([folder / stem] if source.hash_of == "payload" else [])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def idx_folders(data_dir: Path, source: IdxSource = MNIST) -> list[Path]:
    """Where the IDX files may be, in search order."""
    return [data_dir / sub if sub else data_dir for sub in source.folders]


def idx_target(data_dir: Path, source: IdxSource = MNIST) -> Path:
    """The IDX folder of the data folder ``data_dir``: the one ``nnlab data fetch`` fills and ``nnlab data info`` shows.

    The first of ``idx_folders`` holding any IDX file (where the loader looks
    first), else ``data_dir/mnist`` (``data_dir/fashion-mnist``, ...).
    """
    return next(
        (f for f in idx_folders(data_dir, source) if any(idx_path(f, stem, source) for stem in IDX_FILES)),
        data_dir / source.fetch_folder,
    )


def find_mnist(data_dir: str | Path) -> Path:
    """The folder holding all four MNIST IDX files, else ``data_dir/mnist.pkl.gz``.

    Raises a ``UserError`` saying where it looked and how to get the data.
    """
    return find_idx(data_dir, MNIST)


def find_idx(data_dir: str | Path, source: IdxSource) -> Path:
    """The folder holding all four of ``source``'s IDX files (MNIST: else ``data_dir/mnist.pkl.gz``)."""
    data_dir = Path(data_dir).expanduser()
    partial: list[tuple[Path, list[str]]] = []
    for folder in idx_folders(data_dir, source):
        missing = [f"{stem}.gz" for stem in IDX_FILES if idx_path(folder, stem, source) is None]
        if not missing:
            return folder
        if len(missing) < len(IDX_FILES):
            partial.append((folder, missing))
    pickle = source is MNIST and (data_dir / PICKLE_NAME).is_file()
    if pickle:
        return data_dir / PICKLE_NAME
    if partial:
        folder, missing = partial[0]
        raise UserError(
            f"{folder} holds only some of the {source.title} IDX files (missing {', '.join(missing)});"
            f" run `nnlab data fetch {source.name} --dir {data_dir}` to complete them"
        )
    if not data_dir.is_dir():
        raise UserError(f"{source.title} not found: {data_dir} is not a folder; {how_to_get(source)}")
    searched = ", ".join(str(f) for f in idx_folders(data_dir, source))
    pickle_note = f", and no {PICKLE_NAME} in {data_dir}" if source is MNIST else ""
    raise UserError(
        f"{source.title} not found: no IDX files (train-images-idx3-ubyte.gz and the other three)"
        f" in {searched}{pickle_note}; {how_to_get(source)}"
    )


def _labels(path: Path, y: np.ndarray, source: IdxSource = MNIST) -> np.ndarray:
    bad = y[(y < 0) | (y > 9)]
    if bad.size:
        raise _corrupt(path, f"label {int(bad[0])} found, expected 0..9", source)
    return y.astype(np.int64)


def _check_sha256(path: Path, stem: str, raw: bytes, data: bytes, source: IdxSource = MNIST) -> None:
    """The file against the official sha256: of its uncompressed bytes ``data`` (header + payload; MNIST),
    or of the .gz file itself, ``raw`` (Fashion-MNIST).

    A file that passes the structural checks but was altered (or is another
    dataset in the same format) is refused rather than trained on.
    """
    expected = source.files[stem][0]
    if source.hash_of == "gz":
        digest = hashlib.sha256(raw)
        what = "sha256 of the file"
    else:
        digest = hashlib.sha256(data)
        what = "sha256 of the payload"
    if digest.hexdigest() != expected:
        found = digest.hexdigest()[:16]
        raise _corrupt(path, f"{what} is {found}..., expected {expected[:16]}... (the official file)", source)


def load_idx_folder(folder: str | Path, source: IdxSource = MNIST) -> tuple[Arrays, Arrays]:
    """The 60k official training and 10k test images/labels from ``folder``.

    Each file is checked for its structure, then (labels 0..9) for its content,
    then against the official sha256.
    """
    folder = Path(folder)
    parts = []
    for prefix in ("train", "t10k"):
        arrays = []
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            stem = f"{prefix}-{kind}"
            path = idx_path(folder, stem, source)
            if path is None:
                raise UserError(f"{folder / stem}.gz does not exist; {how_to_get(source)}")
            raw = _read_bytes(path)  # read once: parsed here, hashed below
            array, data = _parse_idx(path, raw, *IDX_FILES[stem], source)
            arrays.append((path, stem, array, raw, data))
        (x_path, x_stem, X, x_raw, x_data), (y_path, y_stem, y, y_raw, y_data) = arrays
        labels = _labels(y_path, y, source)
        _check_sha256(x_path, x_stem, x_raw, x_data, source)
        _check_sha256(y_path, y_stem, y_raw, y_data, source)
        parts.append((X.reshape(len(X), N_PIXELS), labels))
    return parts[0], parts[1]


def _from_pixels_over_256(path: Path, X: np.ndarray) -> np.ndarray:
    """Nielsen's float32 ``pixel/256`` back to the exact uint8 pixels."""
    scaled = np.asarray(X, dtype=np.float32) * np.float32(256)  # exact: a power of two
    pixels = np.rint(scaled)
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, scaled):
        raise UserError(
            f"{path} does not hold pixel/256 values as in Nielsen's mnist.pkl.gz;"
            " use the IDX files instead (`nnlab data fetch mnist`)"
        )
    return pixels.astype(np.uint8)


def load_nielsen_pickle(path: str | Path) -> tuple[Arrays, Arrays]:
    """Nielsen's ``((X_tr, y_tr), (X_va, y_va), (X_te, y_te))`` as the 60k official
    training set (train then validation, in the original order) and the 10k test set."""
    path = Path(path)
    obj = safe_load_pickle(path)
    expected = [((n, N_PIXELS), (n,)) for n in (N_TRAIN - N_TEST, N_TEST, N_TEST)]
    pairs = (
        isinstance(obj, (tuple, list))
        and len(obj) == 3
        and all(isinstance(part, (tuple, list)) and len(part) == 2 for part in obj)
    )
    found = [(part[0].shape, part[1].shape) for part in obj] if pairs else type(obj).__name__
    if found != expected:
        raise UserError(
            f"{path} is not in Nielsen's layout ((X, y) for 50000 train, 10000 validation"
            f" and 10000 test images of 784 pixels); found {found}"
        )
    X = [_from_pixels_over_256(path, part[0]) for part in obj]
    y = [np.asarray(part[1]) for part in obj]
    if any(not np.issubdtype(labels.dtype, np.integer) for labels in y):
        raise UserError(f"{path} has non-integer labels; expected int64 labels 0..9")
    train = (np.concatenate(X[:2]), _labels(path, np.concatenate(y[:2])))
    return train, (X[2], _labels(path, y[2]))


def load_mini() -> dict[str, Arrays]:
    """The embedded subset: ``{"train": (X, y), "validation": ..., "test": ...}``."""
    with np.load(MINI_PATH, allow_pickle=False) as npz:
        parts = {p: (npz[f"{p}_X"], npz[f"{p}_y"]) for p in MINI_PARTS}
    for name, (X, y) in parts.items():
        if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != N_PIXELS or y.shape != X.shape[:1]:
            raise RuntimeError(f"{MINI_PATH} is damaged ({name}: X {X.shape} {X.dtype})")
    return {p: (X, y.astype(np.int64)) for p, (X, y) in parts.items()}
