"""The run directory writer (format 1; the contract is docs/run-directory.md).

Created with ``os.mkdir`` so two runs started in the same second never share
a folder (the second gets ``-2``). CSV rows are appended as one ``write`` per
epoch and flushed, so a killed run keeps every finished epoch and never a
torn row; ``meta.json``, ``summary.json``, weights and checkpoints are
written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not locked
    fcntl = None  # type: ignore[assignment]

from nnlab import __version__
from nnlab.errors import UserError
from nnlab.instruments.base import Row
from nnlab.io import atomic_write_json, atomic_write_text, load_npz, save_npz

FORMAT = 1
METRICS_COLUMNS = (
    "epoch",
    "step",
    "seconds",
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
    "test_loss",
    "test_accuracy",
    "lr",
)
#: ``layer`` is Nielsen's l (1..L, L = the output layer); ``label`` names it: dense1, conv2, output
LONG_COLUMNS = ("step", "epoch", "layer", "quantity", "value", "label")
#: the columns every reader requires (``label`` came later: older run directories lack it)
LONG_REQUIRED = LONG_COLUMNS[:5]
#: curvature: measurements of the whole network (layer 0, label "network"), such as the Hessian's largest eigenvalue
TABLES = {"metrics": METRICS_COLUMNS, "gradients": LONG_COLUMNS, "activations": LONG_COLUMNS, "curvature": LONG_COLUMNS}
#: the tables every run directory has had since format 1 (later ones may be missing in older runs)
ESSENTIAL = ("metrics", "gradients", "activations")
FINISHED = ("completed", "failed", "interrupted", "diverged")
BEST_WEIGHTS = "weights-best.npz"  # the parameters of the best-validation epoch


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if v == v else "nan"  # repr round-trips exactly
    return str(v)


def _line(values: Iterable[Any]) -> str:
    return ",".join(_cell(v) for v in values) + "\n"


def create_run_dir(runs_dir: str | Path, name: str, stamp: str | None = None) -> Path:
    """A new, empty ``runs_dir/<YYYYmmdd-HHMMSS>-<name>[-k]`` (never an existing one)."""
    runs_dir = Path(runs_dir)
    stamp = stamp or _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{runs_dir}: cannot create the runs folder ({e.strerror or e})") from None
    base = f"{stamp}-{name}"
    for k in range(1, 10_000):
        path = runs_dir / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise UserError(f"{runs_dir}: cannot create a run folder there ({e.strerror or e})") from None
    raise UserError(f"{runs_dir}: too many runs named {base}")


def blas_info() -> str:
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: not worth failing a run over
        return "unknown"


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the nnlab checkout, if it is one (None for an installed package)."""
    here = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class RunDir:
    """Writes one run directory. ``RunDir.create`` for a new run, ``RunDir(path)`` to continue one.

    ``RunDir.create`` also locks the folder for this process (``lock``); ``unlock``
    when done writing (``run_experiment`` does; the process ending does too).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.meta: dict[str, Any] = {}
        self._files: dict[str, Any] = {}
        self._lock_fd: int | None = None
        self.labelled = True  # the long tables have a label column (False: a run written before labels)

    # -- one writer at a time ----------------------------------------------------
    def lock(self) -> None:
        """Hold an exclusive lock on the folder while this process writes it.

        An ``flock`` on the folder itself: no file is added, and the kernel releases
        it when the process ends, however it ends (SIGKILL too), so a killed run can
        be resumed at once while a live one cannot be resumed by a second process.
        A missing folder is left to ``read_meta`` to report.
        """
        if fcntl is None or self._lock_fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UserError(
                f"{self.path}: in use by another nnlab process (the run is still going);"
                " resume it once that process has ended"
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # -- creation ----------------------------------------------------------
    @classmethod
    def create(cls, *, runs_dir: str | Path | None = None, path: str | Path | None = None, name: str = "run") -> RunDir:
        if path is not None:
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.mkdir()
            except FileExistsError:
                raise UserError(f"{path}: already exists; a run never writes into an existing folder") from None
            except OSError as e:
                raise UserError(f"{path}: cannot create the run folder ({e.strerror or e})") from None
            made = cls(path)
        else:
            made = cls(create_run_dir(runs_dir or "runs", name))
        made.lock()
        return made

    def start(
        self, *, config_yaml: str, overrides: Sequence[str], seed: int, name: str, config_file: str | None
    ) -> None:
        """Write config.yaml, overrides.json, the CSV headers, then meta.json (status running).

        meta.json comes last: a folder with a meta.json has every other file of a
        started run, whenever the process is killed.
        """
        atomic_write_text(self.path / "config.yaml", config_yaml)
        atomic_write_json(self.path / "overrides.json", list(overrides))
        self.write_headers()
        self.meta = {
            "format": FORMAT,
            "nnlab": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas": blas_info(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "seed": seed,
            "git_commit": git_commit(),
            "command": list(sys.argv),
            "name": name,
            "config_file": config_file,
            "started": now(),
            "ended": None,
            "status": "running",
            "error": None,
            "epochs_completed": 0,
        }
        self.write_meta()

    def write_headers(self) -> None:
        """Each CSV as its header line only (a new run, or a resume with no checkpoint yet)."""
        self.close()
        for table, columns in TABLES.items():
            atomic_write_text(self.path / f"{table}.csv", _line(columns))

    def reopen(self) -> None:
        """Continue an existing run: status back to running, resumed time noted.

        Temporary files of atomic writes cut short by a kill (``.<name>.<random>.tmp``,
        never read) are removed.
        """
        for folder in (self.path, self.checkpoint_path.parent):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
        self.meta = self.read_meta()
        for table, columns in TABLES.items():  # a table newer than the run: its header
            if not (self.path / f"{table}.csv").exists():
                atomic_write_text(self.path / f"{table}.csv", _line(columns))
        header = (self.path / "gradients.csv").read_text(encoding="utf-8").partition("\n")[0]
        self.labelled = "label" in header.split(",")
        self.meta.update(status="running", ended=None, error=None)
        self.meta.setdefault("resumed", []).append(now())
        self.write_meta()

    # -- meta ----------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            if (self.path / "config.yaml").is_file():  # killed in the milliseconds a run folder is made
                raise UserError(
                    f"{self.path}: run stopped while its folder was being made (no meta.json);"
                    " nothing was trained: delete the folder and start the run again"
                ) from None
            raise UserError(f"{self.path}: not a run directory (no meta.json)") from None
        except (OSError, ValueError) as e:
            raise UserError(f"{self.path}/meta.json: unreadable ({e})") from None
        if not isinstance(meta, dict):
            raise UserError(f"{self.path}/meta.json: unreadable (not a JSON object)")
        if meta.get("format") != FORMAT:
            found = meta.get("format")
            raise UserError(
                f"{self.path}: run directory format {found!r}; this nnlab ({__version__}) reads format {FORMAT} only"
            )
        return meta

    def write_meta(self) -> None:
        atomic_write_json(self.path / "meta.json", self.meta)

    def finish(self, status: str, error: str | None = None, epochs_completed: int | None = None) -> None:
        self.close()
        self.meta.update(status=status, error=error, ended=now())
        if epochs_completed is not None:
            self.meta["epochs_completed"] = epochs_completed
        self.write_meta()

    # -- tables ----------------------------------------------------------------
    def append(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows to ``<table>.csv`` in one write, flushed to the OS."""
        if not rows:
            return
        f = self._files.get(table)
        if f is None:
            f = self._files[table] = open(self.path / f"{table}.csv", "a", encoding="utf-8")
        f.write("".join(_line(r) for r in rows))
        f.flush()

    def table_sizes(self) -> dict[str, int]:
        return {t: (self.path / f"{t}.csv").stat().st_size for t in TABLES if (self.path / f"{t}.csv").exists()}

    def truncate_tables(self, sizes: dict[str, int]) -> None:
        """Cut each CSV back to ``sizes`` (rows written after the checkpoint go)."""
        self.close()
        for t, size in sizes.items():
            with open(self.path / f"{t}.csv", "r+b") as f:
                f.truncate(size)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    # -- results ---------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any], accuracy_md: str) -> None:
        atomic_write_json(self.path / "summary.json", summary)
        atomic_write_text(self.path / "accuracy.md", accuracy_md)

    def save_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        save_npz(self.path / name, arrays)

    # -- checkpoints -------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint" / "checkpoint.npz"

    def save_checkpoint(self, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        """One ``.npz`` replaced atomically: the previous one stays until the new one is complete."""
        self.checkpoint_path.parent.mkdir(exist_ok=True)
        payload = dict(arrays)
        payload["__info__"] = np.frombuffer(json.dumps(info).encode("utf-8"), dtype=np.uint8)
        save_npz(self.checkpoint_path, payload)

    def load_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        if not self.checkpoint_path.exists():
            return None
        start_over = "remove it to start the run over"
        try:
            with open(self.checkpoint_path, "rb") as f:
                if f.read(4) != b"PK\x03\x04":  # np.load would try it as a pickle
                    raise UserError(f"{self.checkpoint_path}: unreadable checkpoint (not an .npz file); {start_over}")
            arrays = load_npz(self.checkpoint_path)
            info = json.loads(arrays.pop("__info__").tobytes().decode("utf-8"))
            if not isinstance(info, dict):
                raise ValueError("no checkpoint information")
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways (zip, npy header, JSON)
            detail = str(e) or type(e).__name__
            raise UserError(f"{self.checkpoint_path}: unreadable checkpoint ({detail}); {start_over}") from None
        return arrays, info


def long_rows(rows: Iterable[Row], labelled: bool = True) -> list[tuple]:
    """CSV rows of gradients.csv / activations.csv (``labelled=False``: without the label column)."""
    if not labelled:
        return [(r.step, r.epoch, r.layer, r.quantity, float(r.value)) for r in rows]
    return [(r.step, r.epoch, r.layer, r.quantity, float(r.value), r.label) for r in rows]
