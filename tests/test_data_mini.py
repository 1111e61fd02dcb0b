"""mnist-mini: the subset embedded in the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnlab.data
from nnlab.data import DATASETS, load_dataset
from nnlab.data.mnist import MINI_PATH
from nnlab.errors import UserError

pytestmark = pytest.mark.filterwarnings("error")
REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(nnlab.data.__file__).resolve().parent

_opened: list[str] | None = None  # a list while recording
_hooked = False


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, Path)):
        _opened.append(str(args[0]))


def test_mnist_mini_has_the_documented_shapes_and_dtypes():
    ds = load_dataset("mnist-mini")
    spec = DATASETS.get("mnist-mini")  # what configs check against, without loading
    assert (spec.train, spec.validation, spec.test) == (len(ds.train), len(ds.validation), len(ds.test))
    assert (spec.n_inputs, spec.n_classes, spec.splits) == (784, ds.n_classes, ("nielsen",))
    assert ds.name == "mnist-mini" and ds.n_classes == 10
    for part, n in (("train", 5000), ("validation", 1000), ("test", 1000)):
        split = getattr(ds, part)
        assert split.X.shape == (n, 784) and split.X.dtype == np.uint8
        assert split.y.shape == (n,) and split.y.dtype == np.int64
        assert set(np.unique(split.y)) == set(range(10))
        assert not split.X.flags.writeable
    assert ds.train.X.max() == 255 and ds.train.X.min() == 0
    assert ds.source == f"{MINI_PATH} (embedded)"


def test_mnist_mini_reads_no_file_outside_the_package(tmp_path, monkeypatch):
    global _opened, _hooked
    if not _hooked:  # audit hooks cannot be removed; this one is idle unless recording
        sys.addaudithook(_audit)
        _hooked = True
    for var in ("NNLAB_DATA", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.setenv(var, str(tmp_path / var))
    _opened = []
    try:
        load_dataset("mnist-mini", data_dir=tmp_path / "ignored")
    finally:
        opened, _opened = _opened, None
    data_files = [p for p in opened if not p.endswith((".py", ".pyc", ".so"))]
    assert data_files, "the audit hook saw nothing: the test would prove nothing"
    assert all(Path(p).resolve().is_relative_to(PACKAGE) for p in data_files), data_files


def test_mnist_mini_offers_only_the_nielsen_split():
    with pytest.raises(UserError) as err:
        load_dataset("mnist-mini", split="first10k")
    assert str(err.value) == (
        "dataset 'mnist-mini' offers only split 'nielsen'; for split 'first10k' use dataset 'fashion-mnist' or 'mnist'"
    )


def test_mnist_mini_subsets_and_their_limit():
    ds = load_dataset("mnist-mini", train_size=100, validation_size=10, test_size=1)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (100, 10, 1)
    with pytest.raises(UserError) as err:
        load_dataset("mnist-mini", train_size=5001)
    assert str(err.value) == (
        "train_size=5001 is larger than the 5000 train images of mnist-mini;"
        " use at most 5000 (or leave it unset for all)"
    )


def test_mnist_mini_file_is_small_documented_and_pickle_free():
    assert MINI_PATH.stat().st_size < 3 * 2**20
    note = (MINI_PATH.parent / "MNIST-MINI.md").read_text()
    assert "CC BY-SA 3.0" in note and "python scripts/make_mnist_mini.py" in note
    with np.load(MINI_PATH, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(f"{p}_{a}" for p in ("train", "validation", "test") for a in "Xy")


@pytest.mark.mnist
def test_mnist_mini_is_the_first_images_of_each_nielsen_part(mnist_idx_dir):
    mini = load_dataset("mnist-mini")
    full = load_dataset("mnist", data_dir=mnist_idx_dir, train_size=5000, validation_size=1000, test_size=1000)
    for part in ("train", "validation", "test"):
        assert np.array_equal(getattr(mini, part).X, getattr(full, part).X)
        assert np.array_equal(getattr(mini, part).y, getattr(full, part).y)


@pytest.mark.mnist
@pytest.mark.slow
def test_make_mnist_mini_script_rebuilds_the_same_arrays(mnist_idx_dir, tmp_path):
    out = tmp_path / "mini.npz"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_mnist_mini.py"),
            "--source",
            str(mnist_idx_dir),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "payload sha256 ba891046e6505d7a" in done.stdout
    with np.load(out) as new, np.load(MINI_PATH) as old:
        assert new.files == old.files
        assert all(np.array_equal(new[k], old[k]) for k in old.files)
