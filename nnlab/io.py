"""Atomic file writes and safe array files (never pickle).

A write that must not be half-done goes to a temporary file in the same
folder, is flushed and fsynced, and replaces the target with ``os.replace``:
a reader sees the old file or the new one, never a torn one. The file gets
the mode any program's new file gets (0666 less the umask), not the 0600 of
the temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_umask_lock = threading.Lock()
_umask_cached: int | None = None


def umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Linux shows it in ``/proc/self/status`` (``Umask:``), read on each call.
    Elsewhere the only way is to set it and set it back (``os.umask``), which
    for that instant gives files other threads create the wrong mode: done once,
    under a lock, and remembered.
    """
    global _umask_cached
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        if _umask_cached is None:
            _umask_cached = os.umask(0o022)
            os.umask(_umask_cached)
        return _umask_cached


def file_mode() -> int:
    """The mode a newly created file gets: 0666 less the umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def make_temp_dir(prefix: str) -> Path:
    """A new folder in the system's temporary folder, with the mode any new folder gets (0777 less the
    umask; ``mkdtemp`` makes it 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o777 & ~umask())
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    _atomic_write(path, lambda f: f.write(data))


def _atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(f)`` into a temporary file beside ``path``, fsynced, then renamed over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())  # mkstemp makes it 0600, whatever the umask
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays to an uncompressed ``.npz``, atomically (written straight to the file: no copy in memory)."""
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays from ``.npz`` with ``allow_pickle=False`` (object arrays refused)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
