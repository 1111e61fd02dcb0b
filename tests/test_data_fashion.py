"""Fashion-MNIST: fetched like MNIST (mirrors in order, sha256 of each .gz file, atomic
writes), against a local HTTP server, never the internet.

The real files cannot be downloaded here, so the tests swap in a source whose
pinned hashes are those of four stand-in files (MNIST's own .gz files: the same
format and sizes); everything else is Fashion-MNIST's code path.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import re
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.cli.data_cmd import data
from nnlab.data import load_dataset
from nnlab.data.fetch import fetch_idx, inspect_idx, verify_payload
from nnlab.data.sources import FASHION_MNIST, SOURCES
from nnlab.errors import SourceUnreachable, UserError

pytestmark = [pytest.mark.mnist, pytest.mark.filterwarnings("error")]
NAMES = [f"{stem}.gz" for stem in FASHION_MNIST.files]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_pinned_values_are_the_published_sha256_of_the_four_gz_files():
    # the values Zalando's files hash to (torchvision and TFDS pin the same); a typo would
    # refuse the genuine files, so the table is checked for form and for the four stems
    assert list(FASHION_MNIST.files) == [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    assert all(re.fullmatch(r"[0-9a-f]{64}", sha) for sha, _ in FASHION_MNIST.files.values())
    assert FASHION_MNIST.files["train-images-idx3-ubyte"][0].startswith("3aede38d6186")
    assert FASHION_MNIST.hash_of == "gz" and SOURCES["fashion-mnist"] is FASHION_MNIST


@pytest.fixture
def stand_in(mnist_idx_dir: Path, monkeypatch) -> dataclasses.Field:
    """Fashion-MNIST's source with the hashes and sizes of MNIST's .gz files."""
    files = {
        stem: (hashlib.sha256((mnist_idx_dir / f"{stem}.gz").read_bytes()).hexdigest(),
               (mnist_idx_dir / f"{stem}.gz").stat().st_size)
        for stem in FASHION_MNIST.files
    }  # fmt: skip
    source = dataclasses.replace(FASHION_MNIST, files=files)
    monkeypatch.setitem(SOURCES, "fashion-mnist", source)
    return source


@pytest.fixture(scope="module")
def mirrors(mnist_idx_dir: Path, tmp_path_factory) -> dict[str, str]:
    """Base URLs: good, tampered (one byte changed in transit), empty (404s), closed (refused)."""
    root = tmp_path_factory.mktemp("fashion-mirrors")
    for sub in ("good", "tampered", "empty"):
        (root / sub).mkdir()
    for name in NAMES:
        (root / "good" / name).symlink_to(mnist_idx_dir / name)
        flipped = bytearray((mnist_idx_dir / name).read_bytes())
        flipped[len(flipped) // 2] ^= 0xFF
        (root / "tampered" / name).write_bytes(bytes(flipped))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = {sub: f"{base}/{sub}/" for sub in ("good", "tampered", "empty")}
    urls["closed"] = f"http://127.0.0.1:{closed_port}/"
    yield urls
    server.shutdown()
    server.server_close()


def test_fetch_tries_mirrors_in_order_and_keeps_only_verified_files(stand_in, mirrors, mnist_idx_dir, tmp_path):
    dest = tmp_path / "fashion-mnist"
    results = fetch_idx(stand_in, dest, [mirrors["closed"], mirrors["tampered"], mirrors["good"]])
    assert sorted(p.name for p in dest.iterdir()) == sorted(NAMES)  # no .part file left behind
    for name in NAMES:
        assert (dest / name).read_bytes() == (mnist_idx_dir / name).read_bytes()
    first = results[0]
    assert first.url == mirrors["good"] + NAMES[0]
    assert first.failures[0].startswith(mirrors["closed"] + NAMES[0] + ": ")
    expected = stand_in.files["train-images-idx3-ubyte"][0][:16]
    assert re.fullmatch(
        re.escape(mirrors["tampered"] + NAMES[0]) + r": sha256 of the file is [0-9a-f]{16}\.\.\., expected "
        + expected + r"\.\.\.",
        first.failures[1],
    )  # fmt: skip
    assert results[1].failures == ()  # the good mirror is tried first for the next file
    assert all(st.problem is None for st in inspect_idx(dest, stand_in))


def test_all_mirrors_bad_exits_4_naming_each_and_leaves_nothing(stand_in, mirrors, tmp_path):
    dest = tmp_path / "fashion-mnist"
    with pytest.raises(SourceUnreachable) as err:
        fetch_idx(stand_in, dest, [mirrors["empty"], mirrors["tampered"]])
    assert err.value.exit_code == 4
    assert f"{mirrors['empty']}{NAMES[0]}: HTTP 404" in str(err.value)
    assert "(or set NNLAB_FASHION_MNIST_MIRRORS)" in str(err.value)
    assert list(dest.iterdir()) == []


def test_an_uncompressed_file_cannot_be_verified_by_the_gz_hash(stand_in, mnist_idx_dir, tmp_path):
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress((mnist_idx_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    problem = verify_payload(plain, "t10k-labels-idx1-ubyte", source=stand_in)
    assert problem == "only the .gz files as Fashion-MNIST publishes them can be verified"
    assert (
        verify_payload(mnist_idx_dir / "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte", source=stand_in) is None
    )


def test_cli_fetch_then_load_as_a_named_dataset(stand_in, mirrors, mnist_idx_dir, tmp_path):
    result = CliRunner().invoke(data, ["fetch", "fashion-mnist", "--dir", str(tmp_path), "--mirror", mirrors["good"]])
    assert result.exit_code == 0, result.output
    assert f"Fashion-MNIST is ready in {tmp_path / 'fashion-mnist'} (4 files verified)" in result.stdout
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, split="first10k", test_size=10)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (50_000, 10_000, 10)
    assert ds.image == (1, 28, 28) and ds.train.X.shape == (50_000, 784)
    again = load_dataset("mnist", data_dir=mnist_idx_dir, split="first10k", test_size=10)  # the stand-in's bytes
    assert np.array_equal(ds.train.X, again.train.X) and np.array_equal(ds.test.y, again.test.y)
    info = CliRunner().invoke(data, ["info", "--dir", str(tmp_path)])
    assert info.stdout.count("verified") == 4
    assert f"dataset 'fashion-mnist' loads from {tmp_path / 'fashion-mnist'}" in info.stdout


def test_loading_refuses_a_file_that_is_not_the_official_one(stand_in, mirrors, mnist_idx_dir, tmp_path):
    folder = tmp_path / "fashion-mnist"
    fetch_idx(stand_in, folder, [mirrors["good"]])
    name = "t10k-labels-idx1-ubyte.gz"
    (folder / name).unlink()
    (folder / name).write_bytes(gzip.compress(gzip.decompress((mnist_idx_dir / name).read_bytes()), compresslevel=1))
    with pytest.raises(UserError) as err:  # the same labels, recompressed: not the published file
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert str(err.value).startswith(f"{folder / name} is truncated or corrupt: sha256 of the file is ")
    assert str(err.value).endswith("(the official file); delete it and run `nnlab data fetch fashion-mnist`")


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError) as err:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert str(err.value) == (
        f"Fashion-MNIST not found: no IDX files (train-images-idx3-ubyte.gz and the other three) in"
        f" {tmp_path / 'fashion-mnist'}; run `nnlab data fetch fashion-mnist`, or set NNLAB_DATA (or data.path)"
        " to a folder whose fashion-mnist/ holds its four IDX .gz files"
    )
