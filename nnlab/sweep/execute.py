"""Running a sweep's members: in-process, in local worker processes, or on a Dask cluster.

Each member is one ``run_experiment`` into ``<sweep>/members/<id>/``. A
member that fails or diverges does not stop the others. Local workers run
with one BLAS thread each (set in the environment they inherit, before they
import numpy), so N processes don't fight over the cores. Dask workers need
no shared file system: a member runs into a temporary folder on the worker
and its files travel back to the client, which writes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnlab.errors import UserError

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: what a member run reports back: status, error and summary
Outcome = dict[str, Any]


def run_member(base: dict, overrides: Sequence[str], run_dir: str, name: str) -> Outcome:
    """One member into ``run_dir`` (which must not exist). Never raises but for Ctrl-C."""
    from nnlab.config import load_config
    from nnlab.experiment import run_experiment

    global _running
    _running = True
    try:
        cfg = load_config(base, list(overrides), base_name=name)
        result = run_experiment(cfg, overrides=list(overrides), run_dir=run_dir, display="quiet")
        return {"status": result.status, "error": result.error}
    except KeyboardInterrupt:
        if _in_worker:  # recorded as interrupted in the member's run directory; the sweep stops
            return {"status": "interrupted", "error": "interrupted by the user (Ctrl-C)"}
        raise
    except UserError as err:
        return {"status": "failed", "error": "; ".join(err.lines)}
    except Exception as err:  # a member's crash is that member's failure
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    finally:
        _running = False


_running = False  # a member is running in this process
_in_worker = False  # this process is a local pool worker


def _worker_init(parent: int) -> None:
    """In each local worker: Ctrl-C interrupts a running member (recorded) and leaves an idle worker
    to the pool's shutdown; a worker whose sweep process died (kill -9) exits instead of waiting forever."""
    import signal
    import threading

    global _in_worker
    _in_worker = True

    def on_sigint(signum, frame):
        if _running:  # recorded as interrupted by run_experiment
            raise KeyboardInterrupt
        # idle: the sweep process handles Ctrl-C and shuts the pool down

    signal.signal(signal.SIGINT, on_sigint)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch_parent() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)  # the member's run stays "running": --resume reruns it

    threading.Thread(target=watch_parent, daemon=True, name="nnlab-parent-watch").start()


def run_member_packed(base: dict, overrides: Sequence[str], name: str) -> tuple[Outcome, dict[str, bytes]]:
    """For remote workers: run in a temporary folder, return the outcome and every file's bytes."""
    with tempfile.TemporaryDirectory(prefix="nnlab-member-") as tmp:
        run_dir = Path(tmp) / "run"
        outcome = run_member(base, overrides, str(run_dir), name)
        files = {}
        if run_dir.is_dir():
            for p in sorted(run_dir.rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    files[str(p.relative_to(run_dir))] = p.read_bytes()
        return outcome, files


def unpack(files: dict[str, bytes], run_dir: Path) -> None:
    from nnlab.io import atomic_write_bytes

    for rel, data in files.items():
        target = run_dir / rel
        if run_dir.resolve() not in target.resolve().parents:
            continue  # never write outside the member folder
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    old = {k: os.environ.get(k) for k in BLAS_VARS}
    os.environ.update({k: "1" for k in BLAS_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold Ctrl-C back (pending, not lost) while workers are spawned.

    The mask is inherited by the spawned workers, so a Ctrl-C cannot hit one
    mid-start-up with a traceback; each unblocks it once its handler is in
    place, and the sweep process gets its KeyboardInterrupt on leaving.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


Task = tuple[str, dict, list[str], Path, str]  # member id, base, overrides, run dir, name
Done = Callable[[str, Outcome], None]


def prepare_dir(run_dir: Path) -> None:
    """An unfinished member's folder is removed: the member starts again.

    Refused (UserError) while another process still writes it: its lock is held.
    """
    if run_dir.exists():
        from nnlab.rundir import RunDir

        rd = RunDir(run_dir)
        rd.lock()
        try:
            shutil.rmtree(run_dir)
        finally:
            rd.unlock()


def execute_inprocess(tasks: Sequence[Task], done: Done) -> None:
    for mid, base, overrides, run_dir, name in tasks:
        prepare_dir(run_dir)
        done(mid, run_member(base, overrides, str(run_dir), name))


def execute_local(tasks: Sequence[Task], jobs: int, done: Done) -> None:
    import multiprocessing

    if jobs <= 1:
        return execute_inprocess(tasks, done)
    with one_blas_thread():
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
    pending: dict[Future, str] = {}
    try:
        # workers are spawned by submit, with Ctrl-C held back until their own handler is in place
        with _sigint_blocked():
            for mid, base, overrides, run_dir, name in tasks:
                prepare_dir(run_dir)
                pending[pool.submit(run_member, base, overrides, str(run_dir), name)] = mid
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                mid = pending.pop(f)
                try:
                    outcome = f.result()
                except KeyboardInterrupt:
                    raise
                except BaseException as err:  # a worker died (killed, out of memory)
                    outcome = {"status": "failed", "error": f"worker died: {type(err).__name__}: {err}"}
                done(mid, outcome)
                if outcome["status"] == "interrupted":  # Ctrl-C reached the workers: stop the sweep
                    raise KeyboardInterrupt
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def require_dask() -> None:
    """A UserError saying what to install when dask.distributed is not importable."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise UserError("--executor dask needs Dask: pip install 'nnlab[dask]'") from None


def execute_dask(tasks: Sequence[Task], scheduler: str, done: Done) -> None:
    require_dask()
    from dask.distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err})") from None
    import uuid

    # task keys unique to this submission: two clients of one cluster, or a resume while the
    # scheduler still holds the interrupted run's tasks, must never share a result
    token = uuid.uuid4().hex[:12]
    try:
        futures = {}
        for mid, base, overrides, run_dir, name in tasks:
            prepare_dir(run_dir)
            fut = client.submit(
                run_member_packed,
                base,
                list(overrides),
                name,
                key=f"nnlab-{run_dir.parent.parent.name}-{mid}-{token}",
                pure=False,
            )
            futures[fut] = (mid, run_dir)
        for fut in as_completed(list(futures)):
            mid, run_dir = futures[fut]
            try:
                outcome, files = fut.result()
                unpack(files, run_dir)
            except Exception as err:
                outcome = {"status": "failed", "error": f"dask: {type(err).__name__}: {err}"}
            done(mid, outcome)
    except KeyboardInterrupt:
        # the members still queued or running on the cluster are dropped; --resume reruns them
        client.cancel([f for f in futures if not f.done()])
        raise
    finally:
        client.close()
