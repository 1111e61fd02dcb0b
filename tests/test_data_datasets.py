"""The dataset API: splits, subsets, scaling and the data folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnlab.data import DATASETS, Dataset, Split, default_data_dir, load_dataset, scale_pixels
from nnlab.errors import UserError

pytestmark = pytest.mark.filterwarnings("error")  # e.g. numpy's deprecated numpy.core

# PROVENANCE.txt: class counts of the 50k training split
NIELSEN_TRAIN_CLASS_COUNTS = [4932, 5678, 4968, 5101, 4859, 4506, 4951, 5175, 4842, 4988]


def _official(idx_dir: Path, stem: str) -> np.ndarray:
    """An independent reader: skip the IDX header, trust nothing in nnlab."""
    offset = 16 if "images" in stem else 8
    data = gzip.decompress((idx_dir / f"{stem}.gz").read_bytes())
    array = np.frombuffer(data, np.uint8, offset=offset)
    return array.reshape(-1, 784) if "images" in stem else array


@pytest.fixture(scope="module")
def official(mnist_idx_dir: Path) -> dict[str, np.ndarray]:
    return {
        stem: _official(mnist_idx_dir, stem)
        for stem in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    }


@pytest.fixture(scope="module")
def nielsen(mnist_idx_dir: Path) -> Dataset:
    return load_dataset("mnist", split="nielsen", data_dir=mnist_idx_dir)


@pytest.mark.mnist
def test_nielsen_split_boundaries_match_official_indices(nielsen, official):
    images, labels = official["train-images-idx3-ubyte"], official["train-labels-idx1-ubyte"]
    assert (len(nielsen.train), len(nielsen.validation), len(nielsen.test)) == (50000, 10000, 10000)
    assert np.array_equal(nielsen.train.X[0], images[0])
    assert np.array_equal(nielsen.train.X[-1], images[49999])
    assert np.array_equal(nielsen.validation.X[0], images[50000])
    assert np.array_equal(nielsen.validation.X[-1], images[59999])
    assert np.array_equal(nielsen.train.y, labels[:50000])
    assert np.array_equal(nielsen.validation.y, labels[50000:])
    assert np.array_equal(nielsen.test.X, official["t10k-images-idx3-ubyte"])
    assert np.array_equal(nielsen.test.y, official["t10k-labels-idx1-ubyte"])


@pytest.mark.mnist
def test_first10k_split_takes_validation_from_the_start(mnist_idx_dir, official):
    ds = load_dataset("mnist", split="first10k", data_dir=mnist_idx_dir)
    images, labels = official["train-images-idx3-ubyte"], official["train-labels-idx1-ubyte"]
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (50000, 10000, 10000)
    assert np.array_equal(ds.validation.X[0], images[0])
    assert np.array_equal(ds.validation.X[-1], images[9999])
    assert np.array_equal(ds.train.X[0], images[10000])
    assert np.array_equal(ds.train.X[-1], images[59999])
    assert np.array_equal(ds.train.y, labels[10000:])
    assert np.array_equal(ds.test.X, official["t10k-images-idx3-ubyte"])


@pytest.mark.mnist
def test_dtypes_shapes_and_class_counts_match_provenance(nielsen):
    for part in (nielsen.train, nielsen.validation, nielsen.test):
        assert part.X.dtype == np.uint8 and part.X.shape == (len(part), 784)
        assert part.y.dtype == np.int64 and part.y.shape == (len(part),)
    assert np.bincount(nielsen.train.y).tolist() == NIELSEN_TRAIN_CLASS_COUNTS
    assert nielsen.n_classes == 10 and nielsen.name == "mnist"
    spec = DATASETS.get("mnist")  # what configs check against, without loading
    assert (spec.train, spec.validation, spec.test) == (50000, 10000, 10000)
    assert (spec.n_inputs, spec.n_classes, spec.splits) == (784, 10, ("first10k", "nielsen"))
    assert nielsen.source.startswith("IDX files in ")
    # pixel mean / std of the 60k training images (pixel/255), from a histogram: fast
    counts = np.bincount(nielsen.train.X.ravel(), minlength=256) + np.bincount(
        nielsen.validation.X.ravel(), minlength=256
    )
    values = np.arange(256) / 255
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert (round(mean, 4), round(std, 4)) == (0.1307, 0.3081)


@pytest.mark.mnist
def test_subset_sizes_keep_the_first_n_of_each_part(mnist_idx_dir, nielsen):
    ds = load_dataset("mnist", data_dir=mnist_idx_dir, train_size=1000, validation_size=0, test_size=10000)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (1000, 0, 10000)
    assert np.array_equal(ds.train.X, nielsen.train.X[:1000])
    assert np.array_equal(ds.train.y, nielsen.train.y[:1000])


@pytest.mark.mnist
def test_subset_larger_than_available_is_a_user_error(mnist_idx_dir):
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=mnist_idx_dir, validation_size=10001)
    assert str(err.value) == (
        "validation_size=10001 is larger than the 10000 validation images of mnist;"
        " use at most 10000 (or leave it unset for all)"
    )


@pytest.mark.parametrize("size", [-1, 2.5, True, "10"])
def test_subset_size_must_be_a_whole_number(size):
    with pytest.raises(UserError, match=r"^train_size must be a whole number >= 0, got "):
        load_dataset("mnist-mini", train_size=size)


def test_unknown_split_lists_valid_ones():
    with pytest.raises(UserError) as err:
        load_dataset("mnist-mini", split="random")
    assert str(err.value) == "unknown split 'random'; valid: first10k, nielsen"


def test_unknown_dataset_lists_valid_ones():
    with pytest.raises(UserError) as err:
        load_dataset("cifar10")
    assert str(err.value) == "unknown dataset 'cifar10'; valid: csv, fashion-mnist, mnist, mnist-mini, npz"
    assert DATASETS.names() == ["csv", "fashion-mnist", "mnist", "mnist-mini", "npz"]


def test_split_arrays_are_read_only_views_that_leave_the_callers_array_alone():
    X, y = np.zeros((3, 784), np.uint8), np.arange(3, dtype=np.int64)
    split = Split(X, y)
    with pytest.raises(ValueError):
        split.X[0, 0] = 1
    X[0, 0] = 7  # the caller's array is still writable, and shared
    assert split.X[0, 0] == 7 and len(split) == 3
    assert repr(split) == "Split(n=3, X=uint8(3, 784), y=int64)"


def test_split_rejects_wrong_dtypes():
    with pytest.raises(TypeError, match="Split.X must be uint8"):
        Split(np.zeros((2, 784), np.float32), np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="Split.y must be int64"):
        Split(np.zeros((2, 784), np.uint8), np.zeros(3, np.int64))


def test_scale_pixels_is_exact_division_in_the_requested_dtype():
    X = np.arange(256, dtype=np.uint8).reshape(1, 256)
    by256 = scale_pixels(X, 256)
    assert by256.dtype == np.float32
    assert np.array_equal(by256, X.astype(np.float64) / 256)  # exact: a power of two
    by255 = scale_pixels(X, 255, np.float64)
    assert by255.dtype == np.float64 and by255[0, -1] == 1.0
    assert np.array_equal(scale_pixels(X, 255), (X / 255.0).astype(np.float32))


def test_scale_pixels_rejects_non_uint8_and_bad_scale():
    with pytest.raises(TypeError, match="expects uint8"):
        scale_pixels(np.zeros((1, 784)), 255)
    with pytest.raises(ValueError, match="scale must be positive"):
        scale_pixels(np.zeros((1, 784), np.uint8), 0)


def test_default_data_dir_prefers_nnlab_data_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    monkeypatch.delenv("NNLAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "nnlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "nnlab"
