"""Running a sweep's members: in-process, in local worker processes, or on a Dask cluster.

Each member is one ``run_experiment`` into ``<sweep>/members/<id>/``. A
member that fails or diverges does not stop the others. Local workers run
with one BLAS thread each (set in the environment they inherit, before they
import numpy), so N processes don't fight over the cores. Dask workers need
no shared file system: a member runs into a temporary folder on the worker
and its files travel back to the client, which writes them.

Members are handed out one at a time as workers free up, never queued ahead.
After Ctrl-C (SIGINT to the process group, as a terminal sends it, or SIGINT or
SIGTERM to the sweep process alone) no member starts; running members stop at
their next step and are recorded ``interrupted``; the executor then raises
``KeyboardInterrupt`` (see ``_drive``).
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
from nnlab.results import run_status
from nnlab.training import Hook

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: what a member run reports back: status, error and summary
Outcome = dict[str, Any]


NOT_STARTED: Outcome = {"status": "pending", "error": None}  # Ctrl-C came before the member began
#: after Ctrl-C, how long running members get to stop and record themselves before their workers are killed
GRACE_SECONDS = 10.0
STOP_SIGNALS = ("SIGINT", "SIGTERM")


def run_member(
    base: dict, overrides: Sequence[str], run_dir: str, name: str, should_stop: Callable[[], bool] | None = None
) -> Outcome:
    """One member into ``run_dir``. Never raises but for Ctrl-C.

    ``run_dir`` is new, or a folder ``continuable`` kept: a member stopped
    mid-run that goes on from its last checkpoint (bit-identical to a run never
    stopped) when its config.yaml is the one the member makes; else it starts again.

    In a local pool worker, a Ctrl-C is returned as the outcome ``interrupted``
    (recorded so in the member's run directory), and a member whose worker saw
    Ctrl-C before it began, or before its run directory was made, is not started
    (``NOT_STARTED``, no folder). ``should_stop`` is
    asked every ``StopCheck.EVERY`` seconds of training (where no signal can reach
    the member: a Dask worker); when it says yes the member stops at that step
    and is recorded ``interrupted``.
    """
    from nnlab.config import load_config
    from nnlab.experiment import run_experiment

    global _running
    _running = True
    try:
        if _stop_requested:
            return dict(NOT_STARTED)
        hooks = [StopCheck(should_stop)] if should_stop is not None else []
        cfg = load_config(base, list(overrides), base_name=name)
        if Path(run_dir).exists():
            from nnlab.config import dump_config

            if (Path(run_dir) / "config.yaml").read_text(encoding="utf-8") == dump_config(cfg):
                result = run_experiment(None, resume=run_dir, display="quiet", hooks=hooks)
                return {"status": result.status, "error": result.error}
            shutil.rmtree(run_dir)  # made with another config: start again
        result = run_experiment(cfg, overrides=list(overrides), run_dir=run_dir, display="quiet", hooks=hooks)
        return {"status": result.status, "error": result.error}
    except KeyboardInterrupt:
        if _in_worker or should_stop is not None:  # recorded as interrupted in the member's run directory
            if not (Path(run_dir) / "meta.json").exists():  # stopped before its run began: not started
                return dict(NOT_STARTED)
            return {"status": "interrupted", "error": "interrupted by the user (Ctrl-C)"}
        raise
    except UserError as err:
        return {"status": "failed", "error": "; ".join(err.lines)}
    except Exception as err:  # a member's crash is that member's failure
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    finally:
        _running = False


class StopCheck(Hook):
    """A training hook: raise ``KeyboardInterrupt`` at the first step after ``should_stop()`` says yes.

    ``should_stop`` is asked at most every ``EVERY`` seconds (it may be a round trip
    to a Dask scheduler). The run records itself ``interrupted``, as after Ctrl-C.
    """

    EVERY = 0.5

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop
        self.last = time.monotonic()

    def on_step_end(self, state) -> None:
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            if self.should_stop():
                raise KeyboardInterrupt


_running = False  # a member is running in this process
_in_worker = False  # this process is a local pool worker
_stop_requested = False  # this worker saw Ctrl-C or SIGTERM: it starts no member


def _worker_init(parent: int) -> None:
    """In each local worker: the first Ctrl-C or SIGTERM interrupts a running member (recorded) and keeps
    the worker from starting another; a worker whose sweep process died (kill -9) exits instead of waiting forever.

    A terminal's Ctrl-C reaches the workers and the sweep process alike, and the
    sweep process passes on one it gets alone: only the first counts, so that a
    second one cannot cut short the recording of the first.
    """
    import signal
    import threading

    global _in_worker
    _in_worker = True

    def on_signal(signum, frame):
        global _stop_requested
        if _stop_requested:
            return
        _stop_requested = True
        if _running:  # recorded as interrupted by run_experiment
            raise KeyboardInterrupt
        # idle: it starts nothing more; the sweep process shuts the pool down

    sigs = {getattr(signal, name) for name in STOP_SIGNALS}
    for sig in sigs:
        signal.signal(sig, on_signal)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)

    def watch_parent() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)  # the member's run stays "running": --resume reruns it

    threading.Thread(target=watch_parent, daemon=True, name="nnlab-parent-watch").start()


def run_member_packed(
    base: dict, overrides: Sequence[str], name: str, stop_event: str | None = None
) -> tuple[Outcome, dict[str, bytes]]:
    """For remote workers: run in a temporary folder, return the outcome and every file's bytes.

    ``stop_event``: the name of a Dask ``Event`` the client sets on Ctrl-C; the
    member stops at its next step once it is set (checked every ``StopCheck.EVERY`` s).
    """
    should_stop = None
    if stop_event is not None:
        from dask.distributed import Event

        event = Event(stop_event)
        should_stop = event.is_set
        if should_stop():  # Ctrl-C came before this member began
            return dict(NOT_STARTED), {}
    with tempfile.TemporaryDirectory(prefix="nnlab-member-") as tmp:
        run_dir = Path(tmp) / "run"
        outcome = run_member(base, overrides, str(run_dir), name, should_stop=should_stop)
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


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back (pending, not lost) while workers are spawned.

    The mask is inherited by the spawned workers, so a signal cannot hit one
    mid-start-up with a traceback; each unblocks them once its handler is in
    place, and the sweep process gets its own on leaving.
    """
    import signal

    if not _in_main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    sigs = {getattr(signal, name) for name in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


class _Stop:
    """Ctrl-C or SIGTERM seen while members run elsewhere: noted here, acted on by ``_drive``."""

    def __init__(self) -> None:
        self.signals = 0
        self.at: float | None = None

    def note(self, *_: Any) -> None:
        """A signal to this process (the signal handler)."""
        self.signals += 1
        self.begin()

    def begin(self) -> None:
        if self.at is None:
            self.at = time.monotonic()

    @contextmanager
    def catching(self) -> Iterator[None]:
        """SIGINT and SIGTERM call ``note`` instead of raising, for the duration (main thread only)."""
        import signal

        if not _in_main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.note) for sig in (getattr(signal, n) for n in STOP_SIGNALS)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


Task = tuple[str, dict, list[str], Path, str]  # member id, base, overrides, run dir, name
Done = Callable[[str, Outcome], None]
Stopping = Callable[[int], None]  # told once, after Ctrl-C, how many members are still running


def prepare_dir(run_dir: Path, keep_checkpointed: bool = False) -> None:
    """An unfinished member's folder is removed, so the member starts again; with
    ``keep_checkpointed`` (local runs), one that has a checkpoint is kept and the member
    continues from it (``continuable``), as ``nnlab train --resume`` would.

    Refused (UserError) while another process still writes it: its lock is held.
    """
    if run_dir.exists():
        from nnlab.rundir import RunDir

        rd = RunDir(run_dir)
        rd.lock()
        try:
            if not (keep_checkpointed and continuable(run_dir)):
                shutil.rmtree(run_dir)
        finally:
            rd.unlock()


def continuable(run_dir: Path) -> bool:
    """A member folder stopped mid-run (interrupted, or killed while running) with a checkpoint to go on from."""
    status, _ = run_status(run_dir)
    return status in ("interrupted", "running") and (run_dir / "checkpoint" / "checkpoint.npz").is_file()


def execute_inprocess(tasks: Sequence[Task], done: Done) -> None:
    """One member after the other in this process: Ctrl-C (or SIGTERM) interrupts the running one
    where it is (recorded ``interrupted``) and raises ``KeyboardInterrupt``, so no other starts."""
    for mid, base, overrides, run_dir, name in tasks:
        prepare_dir(run_dir, keep_checkpointed=True)
        done(mid, run_member(base, overrides, str(run_dir), name))


def _drive(
    tasks: Sequence[Task],
    done: Done,
    *,
    slots: Callable[[], int],
    submit: Callable[[Task], Any],
    poll: Callable[[list[Any]], list[Any]],
    outcome_of: Callable[[Any], Outcome],
    halt: Callable[[], None],
    abandon: Callable[[], None],
    on_stop: Stopping | None,
    prepare: Callable[[Path], None] = prepare_dir,
) -> None:
    """Run ``tasks`` at most ``slots()`` at a time, each submitted only when a slot is free
    (its folder readied by ``prepare`` first).

    After Ctrl-C or SIGTERM (to the sweep process, or reaching a member first) no
    member is submitted; ``halt()`` asks the running ones to stop at their next step,
    and they are waited for (recorded ``interrupted``) for up to ``GRACE_SECONDS``, or
    until a second signal, before ``abandon()`` kills them. Then ``KeyboardInterrupt``.

    ``submit(task)`` returns a handle, ``poll(handles)`` the finished ones (waiting a
    little), ``outcome_of(handle)`` the member's outcome.
    """
    queue = list(tasks)
    running: dict[Any, Task] = {}
    stop = _Stop()
    halted = False
    with stop.catching():
        while queue or running:
            while queue and stop.at is None and len(running) < slots():
                task = queue.pop(0)
                prepare(task[3])
                running[submit(task)] = task
            for handle in poll(list(running)):
                mid = running.pop(handle)[0]
                outcome = outcome_of(handle)
                if outcome["status"] == "interrupted":
                    stop.begin()  # the terminal's Ctrl-C reached a member first: the user stops the sweep
                if outcome["status"] != NOT_STARTED["status"]:
                    done(mid, outcome)
            if stop.at is None:
                continue
            if not halted:
                halted = True
                halt()
                if on_stop is not None:
                    on_stop(len(running))
            if running and (stop.signals > 1 or time.monotonic() - stop.at > GRACE_SECONDS):
                abandon()
                why = "a second Ctrl-C" if stop.signals > 1 else f"{GRACE_SECONDS:g} s"
                for mid, *_ in running.values():
                    done(
                        mid, {"status": "interrupted", "error": f"interrupted by the user (Ctrl-C); killed after {why}"}
                    )
                running.clear()
            if not running:
                break
    if stop.at is not None:
        raise KeyboardInterrupt


def execute_local(tasks: Sequence[Task], jobs: int, done: Done, on_stop: Stopping | None = None) -> None:
    """Members in ``jobs`` worker processes (in this process for ``jobs`` 1); see ``_drive`` for Ctrl-C."""
    import multiprocessing
    import signal

    if jobs <= 1:
        return execute_inprocess(tasks, done)
    with one_blas_thread():
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )

    def submit(task: Task) -> Future:
        mid, base, overrides, run_dir, name = task
        with _stop_signals_blocked():  # a worker spawned here starts with the signals held back
            return pool.submit(run_member, base, overrides, str(run_dir), name)

    def poll(handles: list[Future]) -> list[Future]:
        return list(wait(handles, timeout=0.1, return_when=FIRST_COMPLETED)[0]) if handles else []

    def outcome_of(f: Future) -> Outcome:
        try:
            return f.result()
        except KeyboardInterrupt:  # Ctrl-C in the instant before the member's own handling
            return {"status": "interrupted", "error": "interrupted by the user (Ctrl-C)"}
        except BaseException as err:  # a worker died (killed, out of memory)
            return {"status": "failed", "error": f"worker died: {type(err).__name__}: {err}"}

    def workers() -> list:
        return list((getattr(pool, "_processes", None) or {}).values())

    def halt() -> None:  # a signal to the sweep process alone is passed on; a worker heeds the first only
        for p in workers():
            try:
                os.kill(p.pid, signal.SIGINT)
            except (ProcessLookupError, TypeError):
                pass

    def abandon() -> None:
        for p in workers():
            p.kill()

    try:
        _drive(
            tasks,
            done,
            slots=lambda: jobs,
            submit=submit,
            poll=poll,
            outcome_of=outcome_of,
            halt=halt,
            abandon=abandon,
            on_stop=on_stop,
            prepare=lambda run_dir: prepare_dir(run_dir, keep_checkpointed=True),  # this machine's folders
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def require_dask() -> None:
    """A UserError saying what to install when dask.distributed is not importable."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise UserError("--executor dask needs Dask: pip install 'nnlab[dask]'") from None


def execute_dask(tasks: Sequence[Task], scheduler: str, done: Done, on_stop: Stopping | None = None) -> None:
    """Members on a Dask cluster, as many at a time as it has worker threads; see ``_drive`` for Ctrl-C.

    Members queue here, not on the cluster, so none starts after Ctrl-C; the running
    ones see a Dask ``Event`` set and stop at their next step (their files come back
    as usual).
    """
    require_dask()
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err})") from None
    import uuid

    # task keys unique to this submission: two clients of one cluster, or a resume while the
    # scheduler still holds the interrupted run's tasks, must never share a result
    token = uuid.uuid4().hex[:12]
    stop_event = f"nnlab-stop-{token}"
    run_dirs: dict[Any, tuple[str, Path]] = {}

    def slots() -> int:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a scheduler that cannot say: one at a time
            return 1

    def submit(task: Task) -> Any:
        mid, base, overrides, run_dir, name = task
        fut = client.submit(
            run_member_packed,
            base,
            list(overrides),
            name,
            stop_event,
            key=f"nnlab-{run_dir.parent.parent.name}-{mid}-{token}",
            pure=False,
        )
        run_dirs[fut] = (mid, run_dir)
        return fut

    def poll(handles: list[Any]) -> list[Any]:
        finished = [f for f in handles if f.done()]
        if not finished:
            time.sleep(0.1)
        return finished

    def outcome_of(fut: Any) -> Outcome:
        _, run_dir = run_dirs.pop(fut)
        try:
            outcome, files = fut.result()
            unpack(files, run_dir)
        except Exception as err:
            outcome = {"status": "failed", "error": f"dask: {type(err).__name__}: {err}"}
        return outcome

    def halt() -> None:
        from dask.distributed import Event

        try:
            Event(stop_event, client=client).set()
        except Exception:  # noqa: BLE001 - the members then run on, their results dropped
            pass

    def abandon() -> None:  # a Dask task cannot be killed: its result is dropped; --resume reruns it
        client.cancel(list(run_dirs))

    try:
        _drive(
            tasks,
            done,
            slots=slots,
            submit=submit,
            poll=poll,
            outcome_of=outcome_of,
            halt=halt,
            abandon=abandon,
            on_stop=on_stop,
        )
    finally:
        client.close()
