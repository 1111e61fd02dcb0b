"""Download the four MNIST IDX files, each verified before it is put in place.

Every file is downloaded to a temporary ``.part`` file beside its destination,
its *uncompressed* payload checked against the official sha256 (mirrors
recompress the .gz files, so the .gz bytes differ), then fsync'ed and renamed
into place. A failing mirror (HTTP error, timeout, corrupt gzip, wrong
checksum) is noted and the next one tried; nothing partial is ever left.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from nnlab import __version__
from nnlab.data.datasets import default_data_dir
from nnlab.data.mnist import idx_path
from nnlab.errors import SourceUnreachable, UserError
from nnlab.io import file_mode

# Tried in this order. Overridden by $NNLAB_MNIST_MIRRORS (comma-separated)
# and by `nnlab data fetch --mirror URL`.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
MIRRORS_ENV = "NNLAB_MNIST_MIRRORS"

# file stem -> (sha256, size in bytes) of the UNCOMPRESSED payload: the
# sha256 of the files as distributed at http://yann.lecun.com/exdb/mnist/, the values many
# projects pin (nnlab/data/MNIST-MINI.md lists them too).
PAYLOADS: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}
SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 16


class FetchReporter(Protocol):
    """What ``fetch_mnist`` tells its caller as it goes (the CLI draws progress).

    Match it, or subclass it to inherit no-op hooks.
    """

    def present(self, name: str, path: Path) -> None:
        """``name`` was already in place and verified."""

    def start(self, name: str, url: str, total: int | None) -> None:
        """A download begins; ``total`` is the announced size in bytes, if any."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes of the current download arrived."""

    def failed(self, name: str, where: str, reason: str) -> None:
        """``where`` (a mirror URL or a local file) did not give a good ``name``."""

    def done(self, name: str, url: str, path: Path) -> None:
        """``name`` was downloaded from ``url``, verified and moved to ``path``."""


class _Quiet(FetchReporter):
    """The default reporter: says nothing."""


@dataclass(frozen=True)
class FetchResult:
    """One file after ``fetch_mnist``: ``url`` is None when it was already present."""

    name: str
    path: Path
    url: str | None
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileStatus:
    """One IDX file on disk: ``problem`` is None when present and verified."""

    name: str
    path: Path | None
    size: int
    problem: str | None


class _Failed(Exception):
    """One mirror did not deliver a good file (the message says why)."""


def resolve_mirrors(mirrors: Sequence[str] | None = None) -> list[str]:
    """``mirrors`` if given, else ``$NNLAB_MNIST_MIRRORS``, else ``MIRRORS``."""
    if not mirrors:
        env = os.environ.get(MIRRORS_ENV, "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] or MIRRORS
    for url in mirrors:
        if urllib.parse.urlsplit(url).scheme not in SCHEMES:
            raise UserError(f"mirror {url!r} is not a URL; give one starting with http://, https:// or file://")
    return list(mirrors)


def verify_payload(path: Path, stem: str, *, gzipped: bool | None = None) -> str | None:
    """None when ``path`` holds the official ``stem`` payload; else why not.

    ``gzipped`` defaults to whether the name ends in ``.gz``.
    """
    sha256, size = PAYLOADS[stem]
    digest, n = hashlib.sha256(), 0
    gzipped = path.suffix == ".gz" if gzipped is None else gzipped
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += len(chunk)
                if n > size:  # stop early: a gzip bomb never gets fully inflated
                    return f"payload is larger than the expected {size} bytes"
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as err:
        return f"corrupt gzip data ({err})" if gzipped else f"cannot read it ({err})"
    if n != size:
        return f"payload is {n} bytes, expected {size}"
    if digest.hexdigest() != sha256:
        return f"sha256 of the payload is {digest.hexdigest()[:16]}..., expected {sha256[:16]}..."
    return None


def inspect_idx(folder: Path) -> list[FileStatus]:
    """Which of the four IDX files ``folder`` holds, and whether each verifies."""
    statuses = []
    for stem in PAYLOADS:
        path = idx_path(folder, stem)
        if path is None:
            statuses.append(FileStatus(f"{stem}.gz", None, 0, "missing"))
        else:
            problem = verify_payload(path, stem)
            statuses.append(FileStatus(path.name, path, path.stat().st_size, problem))
    return statuses


def _describe(err: BaseException, timeout: float) -> str:
    """One short phrase for why a download failed."""
    if isinstance(err, _Failed):
        return str(err)
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        if not isinstance(err.reason, BaseException):
            return str(err.reason)
        err = err.reason  # the socket error underneath
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _download(url: str, out: BinaryIO, limit: int, timeout: float, name: str, reporter: FetchReporter) -> None:
    """Stream ``url`` into ``out``, at most ``limit`` bytes."""
    request = urllib.request.Request(url, headers={"User-Agent": f"nnlab/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > limit:
            raise _Failed(f"announces {total} bytes, more than the {limit} expected at most")
        reporter.start(name, url, total)
        received = 0
        while chunk := response.read(_CHUNK):
            received += len(chunk)
            if received > limit:
                raise _Failed(f"sent more than the {limit} bytes expected at most")
            out.write(chunk)
            reporter.advance(len(chunk))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where dirs can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fetch_one(url: str, stem: str, dest: Path, timeout: float, reporter: FetchReporter) -> Path:
    """Download ``url`` into ``dest/stem.gz`` via a verified temp file, or raise."""
    final = dest / f"{stem}.gz"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=dest)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            # deflate grows incompressible data by ~5 bytes per 64 kB: 1 MiB is ample
            _download(url, out, PAYLOADS[stem][1] + (1 << 20), timeout, final.name, reporter)
            out.flush()
            os.fsync(out.fileno())
        problem = verify_payload(tmp, stem, gzipped=True)
        if problem:
            raise _Failed(problem)
        os.chmod(tmp, file_mode())  # mkstemp makes it 0600; a data file follows the umask
        os.replace(tmp, final)
        _fsync_dir(dest)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def fetch_mnist(
    dest: str | Path | None = None,
    mirrors: Sequence[str] | None = None,
    *,
    timeout: float = 30.0,
    reporter: FetchReporter | None = None,
) -> list[FetchResult]:
    """Put the four verified MNIST IDX ``.gz`` files in ``dest``.

    ``dest`` defaults to ``default_data_dir() / "mnist"``; ``mirrors`` to
    ``resolve_mirrors()``. Files already present and verified are skipped.
    Raises ``SourceUnreachable`` (a ``UserError``, exit code 4) listing each
    mirror's failure when none delivers a file; ``UserError`` for bad input.
    """
    dest = Path(dest).expanduser() if dest is not None else default_data_dir() / "mnist"
    mirrors = resolve_mirrors(mirrors)
    reporter = reporter if reporter is not None else _Quiet()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the folder {dest}: {err.strerror or err}") from None
    if not os.access(dest, os.W_OK):
        raise UserError(f"cannot write to {dest}; pass --dir with a folder you can write to")
    results = []
    for stem in PAYLOADS:
        final = dest / f"{stem}.gz"
        if final.is_file():
            problem = verify_payload(final, stem)
            if problem is None:
                reporter.present(final.name, final)
                results.append(FetchResult(final.name, final, None))
                continue
            reporter.failed(final.name, str(final), f"{problem}; downloading it again")
        failures: list[str] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + final.name
            try:
                path = _fetch_one(url, stem, dest, timeout, reporter)
            except (_Failed, OSError, http.client.HTTPException, ValueError) as err:
                reason = _describe(err, timeout)
                failures.append(f"{url}: {reason}")
                reporter.failed(final.name, url, reason)
                continue
            reporter.done(final.name, url, path)
            results.append(FetchResult(final.name, path, url, tuple(failures)))
            mirrors.insert(0, mirrors.pop(mirrors.index(mirror)))  # the next file tries it first
            break
        else:
            raise SourceUnreachable(
                f"could not fetch {final.name} into {dest}: {'; '.join(failures)};"
                f" check the network, or pass --mirror URL (or set {MIRRORS_ENV})"
            )
    return results
