"""MNIST files on disk: the IDX reader, Nielsen's pickle, finding the data."""

from __future__ import annotations

import gzip
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from nnlab.data import load_dataset, safe_pickle
from nnlab.data.mnist import IDX_FILES, _from_pixels_over_256, find_mnist, read_idx
from nnlab.errors import UserError

pytestmark = pytest.mark.filterwarnings("error")

FETCH = "delete it and run `nnlab data fetch mnist`"


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def link_idx(src: Path, dest: Path, skip: str = "") -> None:
    """Symlink the four official IDX files into ``dest`` except ``skip``."""
    dest.mkdir(exist_ok=True)
    for stem in IDX_FILES:
        if stem != skip:
            (dest / f"{stem}.gz").symlink_to(src / f"{stem}.gz")


# --- the IDX reader, on tiny synthetic files --------------------------------


def test_read_idx_returns_the_payload_with_the_given_shape(tmp_path):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8)
    path = write_gz(tmp_path / "x.gz", idx_bytes(2051, (2, 3, 4), pixels.tobytes()))
    X = read_idx(path, 2051, (2, 3, 4))
    assert X.dtype == np.uint8 and X.shape == (2, 3, 4)
    assert np.array_equal(X.ravel(), pixels)
    plain = tmp_path / "x"
    plain.write_bytes(idx_bytes(2049, (5,), bytes(range(5))))
    assert read_idx(plain, 2049, (5,)).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "data, detail",
    [
        (idx_bytes(2049, (2, 3, 4), bytes(24)), "magic number 2049, expected 2051"),
        (idx_bytes(2051, (2, 4, 3), bytes(24)), "dimensions (2, 4, 3), expected (2, 3, 4)"),
        (idx_bytes(2051, (2, 3, 4), bytes(23)), "23 bytes of data after the header, expected 24"),
        (idx_bytes(2051, (2, 3, 4), bytes(25)), "25 bytes of data after the header, expected 24"),
        (b"\x00\x00\x08\x03\x00", "5 bytes, shorter than the 16-byte IDX header"),
    ],
)
def test_read_idx_rejects_a_bad_header_or_payload_naming_the_file(tmp_path, data, detail):
    path = write_gz(tmp_path / "train-images-idx3-ubyte.gz", data)
    with pytest.raises(UserError) as err:
        read_idx(path, 2051, (2, 3, 4))
    assert str(err.value) == f"{path} is truncated or corrupt: {detail}; {FETCH}"


def test_read_idx_rejects_truncated_or_non_gzip_data(tmp_path):
    good = gzip.compress(idx_bytes(2051, (2, 3, 4), bytes(range(24))) * 50)
    for name, data in [("cut.gz", good[: len(good) // 2]), ("text.gz", b"<html>404</html>")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(
            UserError,
            match=rf"^{re.escape(str(path))} is truncated or corrupt:"
            rf" bad gzip data \(.+\); {re.escape(FETCH)}$",
        ):
            read_idx(path, 2051, (2, 3, 4))


# --- finding the data --------------------------------------------------------


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(err.value) == (
        f"MNIST not found: no IDX files (train-images-idx3-ubyte.gz and the other three) in"
        f" {tmp_path}, {tmp_path}/mnist, {tmp_path}/mnist-idx, and no mnist.pkl.gz in {tmp_path};"
        " run `nnlab data fetch mnist`, or set NNLAB_DATA (or data.path) to a folder holding"
        " the four IDX files or mnist.pkl.gz"
    )
    assert len(err.value.lines) == 1


def test_missing_data_folder_uses_nnlab_data_and_never_falls_back_to_mini(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(UserError) as err:
        load_dataset("mnist")
    assert str(err.value).startswith(
        f"MNIST not found: {tmp_path / 'nowhere'} is not a folder; run `nnlab data fetch mnist`"
    )


def test_an_incomplete_idx_folder_names_the_missing_files(tmp_path):
    for stem in list(IDX_FILES)[:2]:
        (tmp_path / f"{stem}.gz").write_bytes(b"")
    with pytest.raises(UserError) as err:
        find_mnist(tmp_path)
    assert str(err.value) == (
        f"{tmp_path} holds only some of the MNIST IDX files (missing t10k-images-idx3-ubyte.gz,"
        f" t10k-labels-idx1-ubyte.gz); run `nnlab data fetch mnist --dir {tmp_path}` to complete them"
    )


def test_idx_files_are_found_in_the_folder_or_its_mnist_subfolders(tmp_path):
    for where in (tmp_path / "mnist-idx", tmp_path / "mnist", tmp_path):
        where.mkdir(exist_ok=True)
        for stem in IDX_FILES:
            (where / stem).write_bytes(b"")  # uncompressed names count too
        assert find_mnist(tmp_path) == where
    (tmp_path / "mnist.pkl.gz").write_bytes(b"")  # IDX files win over the pickle
    assert find_mnist(tmp_path) == tmp_path


def test_the_pickle_is_used_when_there_are_no_idx_files(tmp_path):
    (tmp_path / "mnist.pkl.gz").write_bytes(b"")
    assert find_mnist(tmp_path) == tmp_path / "mnist.pkl.gz"


# --- real files --------------------------------------------------------------


@pytest.mark.mnist
def test_truncated_download_of_real_file_is_a_user_error(mnist_idx_dir, tmp_path):
    link_idx(mnist_idx_dir, tmp_path, skip="train-images-idx3-ubyte")
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    data = (mnist_idx_dir / bad.name).read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(err.value) == (
        f"{bad} is truncated or corrupt: bad gzip data (Compressed file ended before the"
        f" end-of-stream marker was reached); {FETCH}"
    )


@pytest.mark.mnist
def test_short_label_payload_is_a_user_error(mnist_idx_dir, tmp_path):
    link_idx(mnist_idx_dir, tmp_path, skip="t10k-labels-idx1-ubyte")
    payload = gzip.decompress((mnist_idx_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", payload[:-8])
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(err.value) == (
        f"{bad} is truncated or corrupt: 9992 bytes of data after the header, expected 10000; {FETCH}"
    )


@pytest.mark.mnist
def test_labels_outside_0_to_9_are_a_user_error(mnist_idx_dir, tmp_path):
    link_idx(mnist_idx_dir, tmp_path, skip="t10k-labels-idx1-ubyte")
    bad = write_gz(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(2049, (10000,), bytes([3]) * 9999 + bytes([10])))
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(err.value) == f"{bad} is truncated or corrupt: label 10 found, expected 0..9; {FETCH}"


@pytest.mark.mnist
def test_idx_files_and_nielsen_pickle_give_identical_arrays(shared_data_dir, tmp_path, monkeypatch):
    pkl = shared_data_dir / "mnist.pkl.gz"
    if not pkl.is_file():
        pytest.skip(f"{pkl} not present")
    (tmp_path / pkl.name).symlink_to(pkl)
    asked: set[str] = set()
    find_class = safe_pickle._ArrayUnpickler.find_class

    def spy(self, module, name):
        asked.add(f"{module}.{name}")
        return find_class(self, module, name)

    monkeypatch.setattr(safe_pickle._ArrayUnpickler, "find_class", spy)
    from_pickle = load_dataset("mnist", data_dir=tmp_path)
    # all the real file needs (and all the restricted unpickler allows, bar newer numpy names)
    assert asked == {"numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype", "_codecs.encode"}
    from_idx = load_dataset("mnist", data_dir=shared_data_dir / "mnist-idx")
    assert from_pickle.source == str(tmp_path / pkl.name)
    for part in ("train", "validation", "test"):
        a, b = getattr(from_pickle, part), getattr(from_idx, part)
        assert a.X.dtype == b.X.dtype == np.uint8 and a.y.dtype == b.y.dtype == np.int64
        assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)


# --- Nielsen's pickle layout, on small stand-ins ----------------------------


def test_a_pickle_in_another_layout_is_a_user_error(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    parts = tuple((np.zeros((n, 784), np.float32), np.zeros(n, np.int64)) for n in (5, 2, 2))
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)
    with pytest.raises(UserError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(err.value).startswith(
        f"{path} is not in Nielsen's layout ((X, y) for 50000 train, 10000 validation and 10000"
        " test images of 784 pixels); found [((5, 784), (5,)),"
    )


def test_pixels_over_256_round_trip_exactly_and_pixels_over_255_are_refused(tmp_path):
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 256)
    assert np.array_equal(_from_pixels_over_256(tmp_path, pixels / np.float32(256)), pixels)
    with pytest.raises(UserError, match="does not hold pixel/256 values"):
        _from_pixels_over_256(tmp_path, (pixels / 255).astype(np.float32))
