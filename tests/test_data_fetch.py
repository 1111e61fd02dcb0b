"""Downloading MNIST from mirrors, against a local HTTP server (never the internet)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import re
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnlab.cli.data_cmd import _RichReporter, data
from nnlab.data import load_dataset
from nnlab.data.fetch import PAYLOADS, fetch_mnist, resolve_mirrors
from nnlab.errors import UserError

pytestmark = [pytest.mark.mnist, pytest.mark.filterwarnings("error")]
NAMES = [f"{stem}.gz" for stem in PAYLOADS]
FIRST = NAMES[0]  # train-images-idx3-ubyte.gz, fetched first
ADVICE = "check the network, or pass --mirror URL (or set NNLAB_MNIST_MIRRORS)"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def mirrors(mnist_idx_dir: Path, tmp_path_factory) -> dict[str, str]:
    """Base URLs of local mirrors: good, corrupt, wrongsum, bomb, empty, closed, hanging."""
    root = tmp_path_factory.mktemp("mirrors")
    for sub in ("good", "corrupt", "wrongsum", "bomb", "empty"):
        (root / sub).mkdir()
    for name in NAMES:
        src = mnist_idx_dir / name
        (root / "good" / name).symlink_to(src)
        flipped = bytearray(src.read_bytes())
        flipped[len(flipped) // 2] ^= 0xFF  # bytes changed in transit
        (root / "corrupt" / name).write_bytes(bytes(flipped))
    # a valid gzip of a payload with one byte changed: only the sha256 can tell
    payload = bytearray(gzip.decompress((mnist_idx_dir / FIRST).read_bytes()))
    payload[-1] ^= 0x01
    (root / "wrongsum" / FIRST).write_bytes(gzip.compress(bytes(payload), compresslevel=1))
    (root / "wrongsum" / "sha256").write_text(hashlib.sha256(payload).hexdigest())
    (root / "bomb" / FIRST).write_bytes(gzip.compress(bytes(60_000_000), compresslevel=1))

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # accepts connections (backlog) but never answers
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = {sub: f"{base}/{sub}/" for sub in ("good", "corrupt", "wrongsum", "bomb", "empty")}
    urls["closed"] = f"http://127.0.0.1:{closed_port}/"
    urls["hanging"] = f"http://127.0.0.1:{hanging.getsockname()[1]}/"
    urls["wrongsum_sha256"] = (root / "wrongsum" / "sha256").read_text()
    yield urls
    server.shutdown()
    server.server_close()
    hanging.close()


@pytest.fixture
def assert_verified(mnist_idx_dir: Path):
    """Check ``dest`` holds exactly the four good files (the good mirror's bytes), nothing partial."""

    def check(dest: Path) -> None:
        assert sorted(p.name for p in dest.iterdir()) == sorted(NAMES)
        for name in NAMES:
            assert (dest / name).read_bytes() == (mnist_idx_dir / name).read_bytes(), name

    return check


def test_fetch_from_a_good_mirror(mirrors, tmp_path, assert_verified):
    results = fetch_mnist(tmp_path, [mirrors["good"]])
    assert [r.url for r in results] == [mirrors["good"] + n for n in NAMES]
    assert all(r.failures == () for r in results)
    assert_verified(tmp_path)


def test_fetch_falls_back_past_a_closed_port_and_a_404(mirrors, tmp_path, assert_verified):
    results = fetch_mnist(tmp_path, [mirrors["closed"], mirrors["empty"], mirrors["good"]])
    assert results[0].url == mirrors["good"] + FIRST
    assert results[0].failures == (
        f"{mirrors['closed']}{FIRST}: Connection refused",
        f"{mirrors['empty']}{FIRST}: HTTP 404 File not found",
    )
    # the mirror that delivered is tried first for the next files
    assert all(r.failures == () for r in results[1:])
    assert_verified(tmp_path)


def test_a_corrupt_download_is_rejected_and_the_next_mirror_used(mirrors, tmp_path, assert_verified):
    results = fetch_mnist(tmp_path, [mirrors["corrupt"], mirrors["good"]])
    assert len(results[0].failures) == 1
    assert results[0].failures[0].startswith(f"{mirrors['corrupt']}{FIRST}: ")
    assert_verified(tmp_path)


def test_a_valid_gzip_with_the_wrong_payload_fails_the_checksum(mirrors, tmp_path, assert_verified):
    results = fetch_mnist(tmp_path, [mirrors["wrongsum"], mirrors["good"]])
    assert results[0].failures == (
        f"{mirrors['wrongsum']}{FIRST}: sha256 of the payload is"
        f" {mirrors['wrongsum_sha256'][:16]}..., expected ba891046e6505d7a...",
    )
    assert_verified(tmp_path)


def test_an_oversized_payload_is_cut_off(mirrors, tmp_path):
    results = fetch_mnist(tmp_path, [mirrors["bomb"], mirrors["good"]])
    assert results[0].failures == (f"{mirrors['bomb']}{FIRST}: payload is larger than the expected 47040016 bytes",)


def test_a_mirror_that_never_answers_times_out(mirrors, tmp_path, assert_verified):
    results = fetch_mnist(tmp_path, [mirrors["hanging"], mirrors["good"]], timeout=0.3)
    assert results[0].failures == (f"{mirrors['hanging']}{FIRST}: timed out after 0.3 s",)
    assert_verified(tmp_path)


def test_all_mirrors_bad_is_a_user_error_and_leaves_no_file(mirrors, tmp_path):
    dest = tmp_path / "mnist"
    with pytest.raises(UserError) as err:
        fetch_mnist(dest, [mirrors["closed"], mirrors["empty"], mirrors["corrupt"]])
    assert len(err.value.lines) == 1
    assert re.fullmatch(
        re.escape(
            f"could not fetch {FIRST} into {dest}: {mirrors['closed']}{FIRST}: Connection"
            f" refused; {mirrors['empty']}{FIRST}: HTTP 404 File not found;"
            f" {mirrors['corrupt']}{FIRST}: "
        )
        + r"[^;]+"
        + re.escape(f"; {ADVICE}"),
        str(err.value),
    ), str(err.value)
    assert list(dest.iterdir()) == []


def test_files_already_present_and_verified_are_kept(mirrors, tmp_path, assert_verified):
    fetch_mnist(tmp_path, [mirrors["good"]])
    results = fetch_mnist(tmp_path, [mirrors["closed"]])  # no download needed
    assert [r.url for r in results] == [None] * 4
    assert_verified(tmp_path)


def test_a_damaged_existing_file_is_downloaded_again(mirrors, tmp_path, assert_verified):
    (tmp_path / NAMES[1]).write_bytes(b"half a file")
    results = fetch_mnist(tmp_path, [mirrors["good"]])
    assert results[1].url == mirrors["good"] + NAMES[1]
    assert_verified(tmp_path)


def test_mirrors_come_from_the_argument_then_the_environment(mirrors, monkeypatch):
    monkeypatch.setenv("NNLAB_MNIST_MIRRORS", f" {mirrors['closed']}, {mirrors['good']} ,")
    assert resolve_mirrors() == [mirrors["closed"], mirrors["good"]]
    assert resolve_mirrors(["https://example.org/m/"]) == ["https://example.org/m/"]
    monkeypatch.delenv("NNLAB_MNIST_MIRRORS")
    assert resolve_mirrors()[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    with pytest.raises(UserError) as err:
        resolve_mirrors(["example.org/mnist"])
    assert str(err.value) == (
        "mirror 'example.org/mnist' is not a URL; give one starting with http://, https:// or file://"
    )


def test_default_destination_is_where_load_dataset_looks(mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATA", str(tmp_path))
    monkeypatch.setenv("NNLAB_MNIST_MIRRORS", mirrors["good"])
    results = fetch_mnist()
    assert {r.path.parent for r in results} == {tmp_path / "mnist"}
    ds = load_dataset("mnist", train_size=10)
    assert ds.source == f"IDX files in {tmp_path / 'mnist'}" and len(ds.train) == 10


# --- the command line --------------------------------------------------------


def test_cli_fetch_reports_each_file_and_the_fallback(mirrors, tmp_path, assert_verified):
    result = CliRunner().invoke(
        data, ["fetch", "mnist", "--dir", str(tmp_path), "--mirror", mirrors["closed"], "--mirror", mirrors["good"]]
    )
    assert result.exit_code == 0, result.output
    assert f"{FIRST}: downloaded from {mirrors['good']}{FIRST}, verified (9,630,634 bytes)" in result.stdout
    assert f"MNIST is ready in {tmp_path / 'mnist'} (4 files verified)" in result.stdout
    assert result.stderr == f"{FIRST}: {mirrors['closed']}{FIRST}: Connection refused\n"
    assert_verified(tmp_path / "mnist")


def test_cli_fetch_and_info_dir_are_the_same_data_folder(mirrors, tmp_path):
    """--dir is the data folder for both: what `fetch --dir D` puts in place, `info --dir D` shows and loads."""
    runner = CliRunner(env={"NNLAB_DATA": str(tmp_path / "elsewhere")})
    fetched = runner.invoke(data, ["fetch", "mnist", "--dir", str(tmp_path), "--mirror", mirrors["good"]])
    assert fetched.exit_code == 0, fetched.output
    assert fetched.stdout.splitlines()[-2:] == [
        f"MNIST is ready in {tmp_path / 'mnist'} (4 files verified)",
        f"nnlab looks in {tmp_path / 'elsewhere'} by default: set NNLAB_DATA={tmp_path}"
        " (or data.path in a config) to use these files",
    ]
    shown = runner.invoke(data, ["info", "--dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"data folder: {tmp_path}  (IDX files looked for in {tmp_path / 'mnist'})")
    assert shown.stdout.count("verified") == 4
    assert f"dataset 'mnist' loads from {tmp_path / 'mnist'}" in shown.stdout
    # a data folder that already holds IDX files directly is completed there, where the loader looks
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / NAMES[0]).symlink_to(tmp_path / "mnist" / NAMES[0])
    fetched = runner.invoke(data, ["fetch", "mnist", "--dir", str(tmp_path / "flat"), "--mirror", mirrors["good"]])
    assert f"MNIST is ready in {tmp_path / 'flat'} (4 files verified)" in fetched.stdout
    for cmd in ("fetch", "info"):
        text = " ".join(runner.invoke(data, [cmd, "--help"]).stdout.split())
        assert "--dir DIR The data folder [default: $NNLAB_DATA, else ~/.cache/nnlab]" in text


def test_cli_fetch_with_only_bad_mirrors_exits_4_with_one_error_line(mirrors, tmp_path):
    result = CliRunner(env={"NNLAB_MNIST_MIRRORS": f"{mirrors['empty']},{mirrors['closed']}"}).invoke(
        data, ["fetch", "mnist", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 4  # source unreachable, not bad input
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: could not fetch {FIRST} into {tmp_path / 'mnist'}: {mirrors['empty']}{FIRST}:"
        f" HTTP 404 File not found; {mirrors['closed']}{FIRST}: Connection refused;"
        f" {ADVICE}"
    ]
    assert list((tmp_path / "mnist").iterdir()) == []


def test_cli_fetch_knows_only_mnist():
    result = CliRunner().invoke(data, ["fetch", "cifar10"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output and "'cifar10'" in result.output


def test_cli_info_shows_verified_files(mnist_idx_dir):
    result = CliRunner().invoke(data, ["info", "--dir", str(mnist_idx_dir.parent)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("verified") == 4
    assert "embedded: 5000 train, 1000 validation, 1000 test" in result.stdout
    assert f"dataset 'mnist' loads from {mnist_idx_dir}" in result.stdout


def test_cli_info_on_an_empty_folder_says_how_to_get_mnist(tmp_path):
    result = CliRunner().invoke(data, ["info", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("missing") == 9  # 4 MNIST IDX files, mnist.pkl.gz, 4 Fashion-MNIST files
    assert "dataset 'mnist' is not available: MNIST not found" in result.stdout
    assert "`nnlab data fetch mnist`" in result.stdout


def test_rich_progress_on_a_terminal(mirrors, tmp_path):
    from rich.console import Console

    out = io.StringIO()
    with _RichReporter(Console(file=out, force_terminal=True, width=120)) as reporter:
        fetch_mnist(tmp_path, [mirrors["closed"], mirrors["good"]], reporter=reporter)
    text = out.getvalue()
    assert f"{FIRST}: downloaded from {mirrors['good']}{FIRST}, verified" in text
    assert "Connection refused" in text and "9.6/9.6 MB" in text


@pytest.mark.filterwarnings("default")
def test_data_command_module_imports_no_numpy_or_rich():
    code = "import sys, nnlab.cli.data_cmd; print(sorted(m for m in ('numpy', 'rich') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
