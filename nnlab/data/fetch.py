"""Download the four IDX files of MNIST or Fashion-MNIST, each verified before it is put in place.

Every file is downloaded to a temporary ``.part`` file beside its destination,
checked against the official sha256 (MNIST: of its *uncompressed* payload, as
mirrors recompress the .gz files; Fashion-MNIST: of the .gz file as Zalando
publishes it; ``nnlab.data.sources``), then fsync'ed and renamed into place. A failing mirror (HTTP error, timeout, corrupt gzip, wrong
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
from nnlab.data.sources import MNIST, IdxSource
from nnlab.errors import SourceUnreachable, UserError
from nnlab.io import file_mode

# file stem -> (sha256, size in bytes) of MNIST's UNCOMPRESSED payload (nnlab.data.sources)
PAYLOADS: dict[str, tuple[str, int]] = MNIST.files
SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 16


class FetchReporter(Protocol):
    """What ``fetch_idx`` tells its caller as it goes (the CLI draws progress).

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
    """One file after ``fetch_idx``: ``url`` is None when it was already present."""

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


def resolve_mirrors(mirrors: Sequence[str] | None = None, source: IdxSource = MNIST) -> list[str]:
    """``mirrors`` if given, else ``$NNLAB_MNIST_MIRRORS`` (the source's variable), else its built-in list."""
    if not mirrors:
        env = os.environ.get(source.mirrors_env, "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] or list(source.mirrors)
    for url in mirrors:
        if urllib.parse.urlsplit(url).scheme not in SCHEMES:
            raise UserError(f"mirror {url!r} is not a URL; give one starting with http://, https:// or file://")
    return list(mirrors)


def verify_payload(path: Path, stem: str, *, gzipped: bool | None = None, source: IdxSource = MNIST) -> str | None:
    """None when ``path`` holds the official ``stem`` file of ``source``; else why not.

    MNIST: the uncompressed payload is hashed (``gzipped`` defaults to whether
    the name ends in ``.gz``); Fashion-MNIST: the .gz file itself.
    """
    sha256, size = source.files[stem]
    digest, n = hashlib.sha256(), 0
    gzipped = path.suffix == ".gz" if gzipped is None else gzipped
    if source.hash_of == "gz" and not gzipped:
        return f"only the .gz files as {source.title} publishes them can be verified"
    opener = gzip.open if gzipped and source.hash_of == "payload" else open
    what = "payload" if source.hash_of == "payload" else "file"
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += len(chunk)
                if n > size:  # stop early: a gzip bomb never gets fully inflated
                    return f"{what} is larger than the expected {size} bytes"
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as err:
        return f"corrupt gzip data ({err})" if gzipped else f"cannot read it ({err})"
    if n != size:
        return f"{what} is {n} bytes, expected {size}"
    if digest.hexdigest() != sha256:
        return f"sha256 of the {what} is {digest.hexdigest()[:16]}..., expected {sha256[:16]}..."
    return None


def inspect_idx(folder: Path, source: IdxSource = MNIST) -> list[FileStatus]:
    """Which of the four IDX files ``folder`` holds, and whether each verifies."""
    statuses = []
    for stem in source.files:
        path = idx_path(folder, stem, source)
        if path is None:
            statuses.append(FileStatus(f"{stem}.gz", None, 0, "missing"))
        else:
            problem = verify_payload(path, stem, source=source)
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


def _fetch_one(url: str, stem: str, dest: Path, timeout: float, reporter: FetchReporter, source: IdxSource) -> Path:
    """Download ``url`` into ``dest/stem.gz`` via a verified temp file, or raise."""
    final = dest / f"{stem}.gz"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=dest)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            # deflate grows incompressible data by ~5 bytes per 64 kB: 1 MiB is ample
            slack = (1 << 20) if source.hash_of == "payload" else 0
            _download(url, out, source.files[stem][1] + slack, timeout, final.name, reporter)
            out.flush()
            os.fsync(out.fileno())
        problem = verify_payload(tmp, stem, gzipped=True, source=source)
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
    """Put the four verified MNIST IDX ``.gz`` files in ``dest``: ``fetch_idx(MNIST, ...)``."""
    return fetch_idx(MNIST, dest, mirrors, timeout=timeout, reporter=reporter)


def fetch_idx(
    source: IdxSource,
    dest: str | Path | None = None,
    mirrors: Sequence[str] | None = None,
    *,
    timeout: float = 30.0,
    reporter: FetchReporter | None = None,
) -> list[FetchResult]:
    """Put the four verified IDX ``.gz`` files of ``source`` in ``dest``.

    ``dest`` defaults to ``default_data_dir() / "mnist"`` (the source's folder);
    ``mirrors`` to ``resolve_mirrors(None, source)``. Files already present and
    verified are skipped. Raises ``SourceUnreachable`` (a ``UserError``, exit
    code 4) listing each mirror's failure when none delivers a file;
    ``UserError`` for bad input.
    """
    dest = Path(dest).expanduser() if dest is not None else default_data_dir() / source.fetch_folder
    mirrors = resolve_mirrors(mirrors, source)
    reporter = reporter if reporter is not None else _Quiet()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the folder {dest}: {err.strerror or err}") from None
    if not os.access(dest, os.W_OK):
        raise UserError(f"cannot write to {dest}; pass --dir with a folder you can write to")
    results = []
    for stem in source.files:
        final = dest / f"{stem}.gz"
        if final.is_file():
            problem = verify_payload(final, stem, source=source)
            if problem is None:
                reporter.present(final.name, final)
                results.append(FetchResult(final.name, final, None))
                continue
            reporter.failed(final.name, str(final), f"{problem}; downloading it again")
        failures: list[str] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + final.name
            try:
                path = _fetch_one(url, stem, dest, timeout, reporter, source)
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
                f" check the network, or pass --mirror URL (or set {source.mirrors_env})"
            )
    return results
