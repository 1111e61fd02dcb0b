"""Datasets split into train / validation / test: the named ones and the user's own files.

Pixels stay uint8 in memory (a quarter of float32's size); ``scale_pixels``
turns them into floats when a run needs them, with the run's own convention
(/255 for the TF blog, /256 for Nielsen). A user's file may hold floats
instead, used as they are.

A named dataset registers a ``DatasetSpec`` (its sizes are known without
loading it); a file format registers a ``FileDataset``, whose spec is read
from the file the data section names. Both answer ``resolve(options)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.data import files, mnist
from nnlab.data.sources import SOURCES
from nnlab.errors import UserError
from nnlab.registry import Registry

# split name -> what it means; both carve the 60k official training images
SPLITS = {
    "nielsen": "train = official train 0..49999, validation = 50000..59999",
    "first10k": "validation = official train 0..9999, train = 10000..59999",
}
N_VALIDATION = 10_000


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One part of a dataset. ``X``: ``(n, d)``, uint8 raw pixels 0..255 or float64 values
    (a user's own data); ``y``: int64 ``(n,)`` labels. Both are stored as read-only views."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.dtype not in (np.uint8, np.float64) or self.X.ndim != 2:
            raise TypeError(f"Split.X must be uint8 or float64 (n, d), got {self.X.dtype} {self.X.shape}")
        if self.y.dtype != np.int64 or self.y.shape != self.X.shape[:1]:
            raise TypeError(f"Split.y must be int64 ({len(self.X)},), got {self.y.dtype} {self.y.shape}")
        for name in ("X", "y"):
            view = getattr(self, name).view()
            view.flags.writeable = False  # a view: the caller's own array stays writable
            object.__setattr__(self, name, view)

    def __len__(self) -> int:
        return len(self.y)

    def first(self, n: int) -> Split:
        """The first ``n`` examples (a view, no copy)."""
        return Split(self.X[:n], self.y[:n])

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, X={self.X.dtype}{self.X.shape}, y={self.y.dtype})"


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A named dataset: three splits, the number of classes and where it came from."""

    name: str
    train: Split
    validation: Split
    test: Split
    n_classes: int = 10
    source: str = ""
    image: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train)}, validation={len(self.validation)},"
            f" test={len(self.test)}, n_classes={self.n_classes}, source={self.source!r})"
        )


# A loader takes (split, data_dir or None) and returns the full-size Dataset
# (load_dataset gives it its spec's image).
DatasetLoader = Callable[[str, Path | None], Dataset]


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is, known without loading it (for config checks), and its loader.

    ``train`` / ``validation`` / ``test``: full part sizes; ``splits``: the ones offered;
    ``image``: one example as an image, ``(channels, height, width)``, when it is one.
    """

    n_inputs: int
    n_classes: int
    train: int
    validation: int
    test: int
    splits: tuple[str, ...]
    load: DatasetLoader
    image: tuple[int, int, int] | None = None
    title: str = ""  # what messages call it when not its name: the user's file

    def resolve(self, options: Mapping[str, Any] | None = None) -> DatasetSpec:
        """This spec: a named dataset is the same whatever the data section says."""
        return self


@dataclass(frozen=True)
class FileDataset:
    """A file format (``npz``, ``csv``): its spec comes from the file ``options["path"]`` names.

    ``options``: the data section as a mapping (``path``, ``label_column``, ...;
    see ``nnlab.data.files``). Reading checks the whole file (UserError when bad).
    """

    kind: str

    def resolve(self, options: Mapping[str, Any] | None = None) -> DatasetSpec:
        parts = files.read_parts(self.kind, options or {})
        X, n = parts.X, {p: len(parts.y[p]) for p in files.PARTS}

        def load(split: str, data_dir: Path | None) -> Dataset:
            splits = {p: Split(X[p], parts.y[p]) for p in files.PARTS}
            return Dataset(self.kind, **splits, n_classes=parts.n_classes, source=parts.source, image=parts.image)

        return DatasetSpec(
            X["train"].shape[1],
            parts.n_classes,
            n["train"],
            n["validation"],
            n["test"],
            tuple(SPLITS),  # data.split carves MNIST only: a file's parts are its own
            load,
            image=parts.image,
            title=Path(str(options["path"])).name if options else self.kind,
        )


DATASETS: Registry[DatasetSpec | FileDataset] = Registry("dataset")


def default_data_dir() -> Path:
    """``$NNLAB_DATA`` if set, else ``$XDG_CACHE_HOME/nnlab``, else ``~/.cache/nnlab``."""
    if os.environ.get("NNLAB_DATA"):
        return Path(os.environ["NNLAB_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "nnlab"


def scale_pixels(X_uint8: np.ndarray, scale: float, dtype: type | np.dtype = np.float32) -> np.ndarray:
    """``X / scale`` in ``dtype``, correctly rounded (computed in ``dtype`` itself).

    ``scale`` is usually 255 (pixels in [0, 1]) or 256 (Nielsen's mnist.pkl.gz).
    """
    if X_uint8.dtype != np.uint8:
        raise TypeError(f"scale_pixels expects uint8 pixels, got {X_uint8.dtype}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return np.divide(X_uint8, scale, dtype=np.dtype(dtype))


def _carve(train_full: Split, split: str) -> tuple[Split, Split]:
    """(train, validation) from the 60k official training images."""
    X, y = train_full.X, train_full.y
    cut = len(y) - N_VALIDATION
    if split == "nielsen":
        return Split(X[:cut], y[:cut]), Split(X[cut:], y[cut:])
    return Split(X[N_VALIDATION:], y[N_VALIDATION:]), Split(X[:N_VALIDATION], y[:N_VALIDATION])


def _idx_loader(name: str) -> DatasetLoader:
    """The loader of the IDX dataset ``SOURCES[name]`` (looked up when loading); MNIST also
    from Nielsen's pickle when its IDX files are absent."""

    def load(split: str, data_dir: Path | None) -> Dataset:
        source = SOURCES[name]
        where = mnist.find_idx(data_dir if data_dir is not None else default_data_dir(), source)
        if where.is_dir():
            (X, y), test = mnist.load_idx_folder(where, source)
            origin = f"IDX files in {where}"
        else:  # mnist.pkl.gz: find_idx offers it for MNIST only
            (X, y), test = mnist.load_nielsen_pickle(where)
            origin = str(where)
        train, validation = _carve(Split(X, y), split)
        return Dataset(name, train, validation, Split(*test), source=origin)

    return load


def _load_mnist_mini(split: str, data_dir: Path | None) -> Dataset:
    parts = {name: Split(*arrays) for name, arrays in mnist.load_mini().items()}
    return Dataset("mnist-mini", **parts, source=f"{mnist.MINI_PATH} (embedded)")


DATASETS.register("mnist")(
    DatasetSpec(784, 10, 50_000, 10_000, 10_000, ("first10k", "nielsen"), _idx_loader("mnist"), image=(1, 28, 28))
)
# mnist-mini's parts are fixed prefixes of Nielsen's three parts: no other split
DATASETS.register("mnist-mini")(
    DatasetSpec(784, 10, 5_000, 1_000, 1_000, ("nielsen",), _load_mnist_mini, image=(1, 28, 28))
)
# Zalando's 28x28 grey images of 10 kinds of clothing, MNIST's format and sizes: split like MNIST
DATASETS.register("fashion-mnist")(
    DatasetSpec(
        784, 10, 50_000, 10_000, 10_000, ("first10k", "nielsen"), _idx_loader("fashion-mnist"), image=(1, 28, 28)
    )
)
# the user's own data: the spec is read from the file data.path names (nnlab/data/files.py)
DATASETS.register("npz")(FileDataset("npz"))
DATASETS.register("csv")(FileDataset("csv"))


def _subset(part: Split, n: int | None, what: str, dataset: str, items: str = "images") -> Split:
    if n is None:
        return part
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise UserError(f"{what}_size must be a whole number >= 0, got {n!r}")
    if n > len(part):
        raise UserError(
            f"{what}_size={n} is larger than the {len(part)} {what} {items} of {dataset};"
            f" use at most {len(part)} (or leave it unset for all)"
        )
    return part.first(int(n))


def load_dataset(
    name: str,
    *,
    split: str = "nielsen",
    data_dir: str | Path | None = None,
    train_size: int | None = None,
    validation_size: int | None = None,
    test_size: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Dataset:
    """Load dataset ``name`` split as ``split``; ``*_size`` keep the FIRST n of each part.

    ``data_dir`` defaults to ``default_data_dir()`` (for a file dataset it is
    the file). ``options``: a file dataset's other data keys (``nnlab.data.files``).
    Deterministic: a part carved from a file's training examples uses ``options["seed"]``.
    """
    spec = DATASETS.get(name).resolve({**(options or {}), "path": data_dir})
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; valid: {', '.join(sorted(SPLITS))}")
    if split not in spec.splits:
        others = [n for n in DATASETS.names() if split in getattr(DATASETS.get(n), "splits", ())]
        raise UserError(
            f"dataset {name!r} offers only split {', '.join(map(repr, spec.splits))};"
            f" for split {split!r} use dataset {' or '.join(map(repr, others))}"
        )
    ds = spec.load(split, Path(data_dir).expanduser() if data_dir is not None else None)
    what, items = (spec.title, "examples") if spec.title else (name, "images")
    return replace(
        ds,
        image=spec.image,  # a named dataset's loader leaves it to its spec
        train=_subset(ds.train, train_size, "train", what, items),
        validation=_subset(ds.validation, validation_size, "validation", what, items),
        test=_subset(ds.test, test_size, "test", what, items),
    )
