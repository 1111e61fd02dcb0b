"""One experiment end to end: config -> network + optimizer + data -> loop with hooks -> run directory.

    from nnlab.config import load_config
    from nnlab.experiment import run_experiment
    result = run_experiment(load_config("configs/quickstart.yaml"), display="quiet")
    result.status, result.run_dir, result.summary["best"]

Problems in the input (config, data) raise ``UserError`` before any folder is
created. Once the run directory exists, every ending is recorded in it:
``completed``, ``diverged`` (NaN/inf), ``interrupted`` (Ctrl-C; the
``KeyboardInterrupt`` is re-raised after recording) or ``failed``.

The parameters of the best-validation epoch are written to ``weights-best.npz``
as each new best appears (so a killed, diverged or early-stopped run keeps
them); checkpoints carry them too, so a resumed run's file matches its history.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.build import Data, build_data, build_network, build_optimizer
from nnlab.config import Config, dump_config, load_config
from nnlab.diagnosis import STRICT_EXIT_CODE, DiagnosisHook, Finding, diagnose_run_dir
from nnlab.display import Display
from nnlab.errors import DivergedError, UserError
from nnlab.instruments import Row
from nnlab.instruments.registry import INITIAL_WEIGHTS, Setup, build_instruments
from nnlab.io import load_npz
from nnlab.memory import check_fits, config_eval_rows
from nnlab.network import Network
from nnlab.optimizers import Optimizer
from nnlab.results import read_long, read_metric_rows
from nnlab.rundir import BEST_WEIGHTS, ESSENTIAL, METRICS_COLUMNS, TABLES, RunDir, long_rows
from nnlab.text import plural, train_label
from nnlab.training import EarlyStopping, EvalSet, Hook, TrainState, evaluate, train

EXIT_CODES = {"completed": 0, "failed": 1, "diverged": 3, "interrupted": 130}


@dataclass
class RunResult:
    run_dir: Path
    status: str  # completed | diverged | failed | interrupted
    summary: dict[str, Any] | None
    error: str | None
    findings: list[Finding] = field(default_factory=list)  # the diagnosis (nnlab.diagnosis)
    strict: bool = False  # output.strict: a completed run with findings exits with STRICT_EXIT_CODE

    @property
    def exit_code(self) -> int:
        if self.status == "completed" and self.strict and self.findings:
            return STRICT_EXIT_CODE
        return EXIT_CODES[self.status]


class Recorder(Hook):
    """Collects instrument rows and per-epoch metrics; flushes them to the run directory each epoch.

    Also keeps the history (metrics rows) the summary is computed from, writes
    ``weights-best.npz`` when an epoch beats every earlier one on validation
    accuracy (the summary's rule: ties go to the earliest), and writes a
    checkpoint every ``checkpoint_every`` epochs after the flush.
    """

    def __init__(self, rundir: RunDir, eval_sets: Sequence[EvalSet], checkpoint_every: int, extra_state: dict) -> None:
        self.rundir = rundir
        self.eval_sets = eval_sets
        self.checkpoint_every = checkpoint_every
        self.extra_state = extra_state  # early stopping and the like, saved in checkpoints
        self.pending: dict[str, list[Row]] = {}
        self.history: list[dict[str, float | None]] = []
        self.wall_before = 0.0  # wall time of the run before a resume
        self.t0 = time.perf_counter()
        # the best-validation epoch: its accuracy, its epoch and a copy of its parameters, and the epoch
        # whose parameters weights-best.npz holds (they differ only while a new best is being written)
        self.best_value = -math.inf
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.saved_best: int | None = None
        #: told exactly what the tables get, as they get it (``rows(table, rows)``, ``metrics(row)``)
        self.listeners: list[Any] = []

    def wall(self) -> float:
        return self.wall_before + (time.perf_counter() - self.t0)

    # the Sink protocol
    def emit(self, table: str, rows: list[Row]) -> None:
        self.pending.setdefault(table, []).extend(rows)

    def _flush(self) -> None:
        for table, rows in self.pending.items():
            self.rundir.append(table, long_rows(rows, self.rundir.labelled))
            for listener in self.listeners:
                listener.rows(table, rows)
        self.pending.clear()

    def _metrics_row(self, state: TrainState, metrics: dict[str, float], seconds: float) -> None:
        row: dict[str, float | None] = {k: metrics.get(k) for k in METRICS_COLUMNS}
        row.update(epoch=state.epoch, step=state.step, seconds=seconds, lr=state.optimizer.learning_rate)
        self.history.append(row)
        self.rundir.append("metrics", [[row[k] for k in METRICS_COLUMNS]])
        for listener in self.listeners:
            listener.metrics(row)

    def on_train_start(self, state: TrainState) -> None:
        if state.step == 0:
            self._metrics_row(state, evaluate(state.net, self.eval_sets), 0.0)
        self._flush()

    def on_epoch_end(self, state: TrainState) -> None:
        acc = state.metrics.get("validation_accuracy")
        new_best = acc is not None and acc > self.best_value
        if new_best:  # copied before the row joins the history: the end of the run relies on this order
            self.best_value, self.best_epoch = acc, state.epoch
            self.best_params = {k: np.array(v, copy=True) for k, v in state.net.params.items()}
        self._metrics_row(state, state.metrics, state.epoch_seconds)
        self._flush()
        if new_best:
            self.save_best()
        self.rundir.meta["epochs_completed"] = state.epoch
        self.rundir.write_meta()
        if state.epoch % self.checkpoint_every == 0 or state.epoch == state.epochs or state.stop:
            best = (self.best_epoch, self.best_params) if self.best_params is not None else None
            save_checkpoint(self.rundir, state, self.extra_state, self.wall(), best)

    def save_best(self) -> None:
        """weights-best.npz from the best epoch's parameters (atomic)."""
        self.rundir.save_arrays(BEST_WEIGHTS, self.best_params)
        self.saved_best = self.best_epoch

    def restore_best(self, epoch: int | None, params: dict[str, np.ndarray] | None) -> None:
        """After a resume: the best of the (truncated) history, with its parameters from the checkpoint.

        weights-best.npz is rewritten from them, since the run may have written a later best
        before it stopped; with no parameters to restore (no checkpoint, or no best yet) it is removed.
        """
        trained = [r for r in self.history if r["epoch"] and r.get("validation_accuracy") is not None]
        best = max(trained, key=lambda r: r["validation_accuracy"], default=None)  # max keeps the earliest tie
        self.best_value = best["validation_accuracy"] if best else -math.inf
        if best is not None and params is not None and epoch == int(best["epoch"]):
            self.best_epoch, self.best_params = epoch, params
            self.save_best()
        else:
            self.best_epoch = self.best_params = self.saved_best = None
            (self.rundir.path / BEST_WEIGHTS).unlink(missing_ok=True)

    def discard_pending(self) -> None:
        self.pending.clear()


def save_checkpoint(
    rundir: RunDir,
    state: TrainState,
    extra: dict,
    wall: float,
    best: tuple[int | None, dict[str, np.ndarray]] | None = None,
) -> None:
    """Parameters, optimizer state, RNG, epoch and step, table sizes; ``best``: the best epoch and its parameters."""
    arrays = {f"param.{k}": v for k, v in state.net.params.items()}
    arrays.update({f"opt.{k}": v for k, v in state.opt_state.items()})
    info = {
        "epoch": state.epoch,
        "step": state.step,
        "rng": state.rng.bit_generator.state,
        "tables": rundir.table_sizes(),
        "wall_seconds": wall,
        "extra": {k: h.state_dict() for k, h in extra.items()},
    }
    if best is not None:
        info["best_epoch"] = best[0]
        arrays.update({f"best.{k}": v for k, v in best[1].items()})
    rundir.save_checkpoint(arrays, info)


def initial_weights(rundir: RunDir, built: dict[str, np.ndarray]) -> Callable[[str], np.ndarray]:
    """A parameter at initialization, by name, read from ``weights-initial.npz``: checked to fit the
    network when the run has the file (a resumed run), else written there from ``built`` (the
    network's parameters as built). Read at each use, so no copy of the weights stays in memory."""
    path = rundir.path / INITIAL_WEIGHTS

    def read(name: str) -> np.ndarray:
        with np.load(path, allow_pickle=False) as f:
            return f[name]

    if not path.exists():
        rundir.save_arrays(INITIAL_WEIGHTS, built)
        return read
    try:
        arrays = load_npz(path)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways
        raise UserError(
            f"{path}: unreadable ({str(e) or type(e).__name__}); remove it to measure from the seed's initial weights"
        ) from None
    if set(arrays) != set(built):
        raise UserError(
            f"{path}: does not fit the run's config.yaml (parameters {sorted(arrays)}, network has {sorted(built)})"
        )
    for k, p in built.items():
        if arrays[k].shape != p.shape:
            raise UserError(
                f"{path}: does not fit the run's config.yaml ({k} has shape {arrays[k].shape}, network has {p.shape})"
            )
    return read


def probe_set(cfg: Config, data: Data) -> tuple[np.ndarray, np.ndarray]:
    n = min(cfg.instruments.probe_size, data.n_train)
    return data.X_train[:n], data.y_train[:n]


def eval_sets(cfg: Config, data: Data) -> list[EvalSet]:
    """The sets evaluated each epoch, in chunks that need no more memory than the training step."""
    rows = config_eval_rows(cfg)
    sets = []
    tm = cfg.instruments.train_metrics
    if tm == "probe":
        sets.append(EvalSet("train", *probe_set(cfg, data), rows))
    elif tm == "full":
        sets.append(EvalSet("train", data.X_train, data.y_train, rows))
    sets.append(EvalSet("validation", data.X_validation, data.y_validation, rows))
    sets.append(EvalSet("test", data.X_test, data.y_test, rows))
    return sets


def summarize(history: list[dict[str, float | None]], gradients: list[Row], status: str, wall: float) -> dict[str, Any]:
    """summary.json from the metrics rows and the probe gradient rows (docs/run-directory.md)."""

    def pick(row: dict | None, *keys: str) -> dict[str, Any]:
        return {k: (row.get(k) if row else None) for k in keys}

    keys = (
        "epoch",
        "train_accuracy",
        "validation_accuracy",
        "test_accuracy",
        "train_loss",
        "validation_loss",
        "test_loss",
    )
    final = history[-1] if history else None
    trained = [r for r in history if r["epoch"] and r.get("validation_accuracy") is not None]
    best = None
    for r in trained:  # ties: the earliest
        if best is None or r["validation_accuracy"] > best["validation_accuracy"]:
            best = r
    norms: dict[int, dict[int, float]] = {}
    for r in gradients:
        if r.quantity == "delta_norm":
            norms.setdefault(r.step, {})[r.layer] = r.value
    steps = sorted(norms)
    as_list = lambda d: [d[l] for l in sorted(d)]  # noqa: E731
    out = {
        "status": status,
        "epochs_completed": int(final["epoch"]) if final else 0,
        "wall_seconds": round(wall, 3),
        "final": pick(final, *keys),
        "best": pick(best, *keys),
        "delta_norms": {
            "initial": as_list(norms[steps[0]]) if steps and steps[0] == 0 else None,
            "final": as_list(norms[steps[-1]]) if steps else None,
        },
    }
    for part in ("final", "best"):
        if out[part]["epoch"] is not None:
            out[part]["epoch"] = int(out[part]["epoch"])
    return out


def accuracy_markdown(s: dict[str, Any], name: str, train: str = "train (probe)") -> str:
    from nnlab.tables import Column, Table, to_markdown

    def pct(v):
        return "" if v is None else f"{100 * v:.2f}"

    heads = ["epoch", f"{train} %", "validation %", "test %"]
    acc = Table("accuracy", [Column("", align="left"), *map(Column, heads)], [])
    for part in ("final", "best"):
        r = s[part]
        cells = [pct(r[k]) for k in ("train_accuracy", "validation_accuracy", "test_accuracy")]
        acc.rows.append([part, "" if r["epoch"] is None else str(r["epoch"]), *cells])
    lines = [f"# {name}: {s['status']}, {plural(s['epochs_completed'], 'epoch')}, {s['wall_seconds']:.1f} s", ""]
    lines.append(to_markdown(acc))
    dn = s["delta_norms"]
    if dn["initial"]:
        L = len(dn["initial"])
        heads = [f"hidden {l}" if l < L else "output" for l in range(1, L + 1)]
        norms = Table("‖δ^l‖", [Column("‖δ^l‖ (probe)", align="left"), *map(Column, heads)], [])
        norms.rows += [[part, *(f"{v:.3g}" for v in dn[part])] for part in ("initial", "final") if dn[part]]
        lines += ["", to_markdown(norms)]
    return "\n".join(lines) + "\n"


class _Tee:
    def __init__(self, recorder: Recorder, keep: list[Row]) -> None:
        self.recorder, self.keep = recorder, keep

    def emit(self, table: str, rows: list[Row]) -> None:
        self.recorder.emit(table, rows)
        if table == "gradients":
            self.keep.extend(r for r in rows if r.quantity == "delta_norm")


def _delta_norm_rows(path: Path, net: Network) -> list[Row]:
    """The ‖δ^l‖ rows a resumed run already has in gradients.csv, as the instruments emitted them.

    Layer by layer rather than in file order: ``summarize`` keys them by (step, layer), so only
    the order within a layer could matter, and ``read_long`` keeps that.
    """
    labels = {layer.number: layer.label for layer in net.learning_layers}  # what the writer put in the label column
    return [
        Row(int(step), int(epoch), layer, "delta_norm", float(value), labels.get(layer, ""))
        for layer, s in read_long(path / "gradients.csv").get("delta_norm", {}).items()
        for epoch, step, value in zip(s.epochs, s.steps, s.values)
    ]


def run_experiment(
    cfg: Config | dict | str,
    *,
    overrides: Sequence[str] = (),
    config_file: str | None = None,
    runs_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    display: str = "auto",
    hooks: Sequence[Hook] = (),
    resume: str | Path | None = None,
) -> RunResult:
    """Train the configured network and write its run directory; see the module docstring.

    ``resume``: an existing run directory to continue from its last checkpoint
    (``cfg`` is then ignored: the run's own config.yaml is used).
    """
    held: list[RunDir] = []  # the run directory this call locked, unlocked however it ends
    try:
        return _experiment(cfg, overrides, config_file, runs_dir, run_dir, display, hooks, resume, held)
    finally:
        for r in held:
            r.unlock()


def _experiment(cfg, overrides, config_file, runs_dir, run_dir, display, hooks, resume, held: list) -> RunResult:
    if resume is not None:
        rundir = RunDir(resume)
        rundir.lock()  # a run still going in another process is refused
        held.append(rundir)
        meta = rundir.read_meta()
        if meta.get("status") == "completed":
            raise UserError(f"{resume}: run already completed; nothing to resume")
        cfg = load_config(str(Path(resume) / "config.yaml"))
        config_file = meta.get("config_file")
    elif not isinstance(cfg, Config):
        cfg = load_config(cfg, list(overrides))
    where = config_file or (f"{resume}/config.yaml" if resume is not None else "config")
    check_fits(cfg, where)  # a network too large for this machine is refused before anything is allocated
    if cfg.output.tensorboard:  # a missing optional package: refused before any folder exists
        from nnlab.tensorboard import require

        require(where)
    data = build_data(cfg)  # UserError if missing: before any folder exists
    rng = np.random.default_rng(cfg.training.seed)
    try:
        net = build_network(cfg, rng, n_train=data.n_train)
        net.eval_rows = config_eval_rows(cfg)  # evaluation and probe chunks: what the memory estimate counts
    except MemoryError as e:  # a typo like 300000 units: a user error, not a crash
        sizes = cfg.model.sizes
        n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        raise UserError(
            f"{config_file or 'config'}: model.sizes: got {sizes}; {n:,} parameters do not fit in memory ({e})"
        ) from None
    opt = build_optimizer(cfg)

    if resume is None:
        rundir = RunDir.create(runs_dir=runs_dir or cfg.output.runs_dir, path=run_dir, name=cfg.name)
        held.append(rundir)
        try:
            rundir.start(
                config_yaml=dump_config(cfg),
                overrides=overrides,
                seed=cfg.training.seed,
                name=cfg.name,
                config_file=config_file,
            )
        except BaseException:  # Ctrl-C or a full disk before the run began: leave no half-made folder
            rundir.close()
            shutil.rmtree(rundir.path, ignore_errors=True)
            raise
    try:
        return _run(cfg, data, net, opt, rng, rundir, display, hooks, resuming=resume is not None)
    except KeyboardInterrupt:  # Ctrl-C while setting up, before training's own handler
        if rundir.meta.get("status") == "running":
            rundir.finish("interrupted", "interrupted by the user (Ctrl-C)")
        raise


def _run(
    cfg, data: Data, net: Network, opt: Optimizer, rng, rundir: RunDir, display: str, hooks, resuming: bool
) -> RunResult:
    sets = eval_sets(cfg, data)
    extra: dict[str, Any] = {}
    if cfg.training.early_stopping:
        extra["early_stopping"] = EarlyStopping(cfg.training.early_stopping)
    recorder = Recorder(rundir, sets, cfg.output.checkpoint_every, extra)
    kept: list[Row] = []
    sink = _Tee(recorder, kept)
    built = {k: np.array(v, copy=True) for k, v in net.params.items()}  # before a checkpoint replaces them

    start = dict(start_epoch=0, start_step=0, opt_state=None)
    if resuming:
        # an unreadable checkpoint, or one that does not fit config.yaml, is refused before the run is touched
        ck = rundir.load_checkpoint()
        if ck is not None:
            arrays, info = ck
            try:
                net.load_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("param.")}, source="checkpoint")
                rng.bit_generator.state = info["rng"]
                # a table added to nnlab after the checkpoint was written (curvature) keeps what it has
                tables = {t: int(info["tables"][t]) for t in TABLES if t in info["tables"] or t in ESSENTIAL}
            except (KeyError, ValueError, TypeError) as e:
                raise UserError(f"{rundir.checkpoint_path}: does not fit the run's config.yaml ({e})") from None
        rundir.reopen()
        if ck is None:  # killed before the first checkpoint: start over in the same folder
            rundir.write_headers()
            recorder.restore_best(None, None)
        else:
            opt_state = {k[4:]: v.copy() for k, v in arrays.items() if k.startswith("opt.")}
            rundir.truncate_tables(tables)
            for k, h in extra.items():
                h.load_state_dict(info["extra"].get(k, {}))
            start = dict(start_epoch=info["epoch"], start_step=info["step"], opt_state=opt_state)
            recorder.history = read_metric_rows(rundir.path / "metrics.csv")
            best = {k[5:]: v for k, v in arrays.items() if k.startswith("best.")}
            recorder.restore_best(info.get("best_epoch"), best or None)
            kept.extend(_delta_norm_rows(rundir.path, net))
            recorder.wall_before = float(info.get("wall_seconds", 0.0))
    X_probe, y_probe = probe_set(cfg, data)
    initial = initial_weights(rundir, built)
    del built  # (the instruments read the initial weights from the file)
    setup = Setup(cfg, net, sink, X_probe, y_probe, initial, folder=rundir.path, n_train=data.n_train)
    instruments = build_instruments(setup)
    writers: list[Hook] = []
    if cfg.output.tensorboard:
        from nnlab.tensorboard import TensorBoardWriter

        writers.append(TensorBoardWriter(rundir.path, X_probe, y_probe))
        recorder.listeners.append(writers[-1])
    train_on = train_label(cfg.instruments.train_metrics)
    show = Display(display, cfg.name, train=train_on)
    all_hooks = [*instruments, *extra.values(), recorder, *writers, *hooks, show]
    if show.mode != "quiet":  # each new finding once, after the epoch's line (the recorder has flushed its rows)
        all_hooks.append(DiagnosisHook(rundir.path, show.warn))
    recorder.t0 = time.perf_counter()
    status, error, state, diverged = "completed", None, None, None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/inf is caught as divergence
            state = train(
                net,
                opt,
                data.X_train,
                data.y_train,
                epochs=cfg.training.epochs,
                batch_size=cfg.training.batch_size,
                rng=rng,
                eval_sets=sets,
                hooks=all_hooks,
                clip_norm=cfg.regularization.clip_norm,
                **start,
            )
    except DivergedError as e:
        status, error = "diverged", str(e)
        diverged = {"epoch": e.epoch, "layer": e.layer, "message": str(e)}
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user (Ctrl-C)"
    except Exception as e:  # a bug or an environment failure: recorded, not hidden
        status, error = "failed", f"{type(e).__name__}: {e}"
        rundir.meta["traceback"] = traceback.format_exc()
    finally:
        show.stop()
        for w in writers:
            w.close()
    with held_interrupts():  # the run's last files are written whole, whatever the user presses meanwhile
        recorder.discard_pending()  # rows of an unfinished epoch
        summary = summarize(recorder.history, kept, status, recorder.wall())
        if state is not None and state.stop and status == "completed":
            summary["stopped_early"] = state.stop
        if diverged is not None:
            summary["divergence"] = diverged
        findings = _diagnose(rundir, summary, show) if status in ("completed", "diverged") else []
        try:
            best = summary["best"]["epoch"]
            if best is not None and best == recorder.best_epoch != recorder.saved_best:
                recorder.save_best()  # a stop while the new best was being written: the file follows the summary
            rundir.write_summary(summary, accuracy_markdown(summary, cfg.name, train_on))
            if status == "completed":
                rundir.save_arrays("weights.npz", dict(net.params))
                rundir.save_arrays("optimizer.npz", dict(state.opt_state))
            rundir.finish(status, error, summary["epochs_completed"])
        finally:
            if status == "interrupted":
                show.final(str(rundir.path), summary, status, error)
                raise KeyboardInterrupt
    show.final(str(rundir.path), summary, status, error, findings)
    return RunResult(rundir.path, status, summary, error, findings, cfg.output.strict)


@contextlib.contextmanager
def held_interrupts():
    """Ctrl-C or SIGTERM in the block waits until the block is done, then takes effect as it would have.

    For the writes that end a run (summary.json, the weights, meta.json's status): a stop
    arriving while they are made would leave a finished run marked ``running``. Held only in
    the main thread (signal handlers can only be set there); the signal is delivered again,
    to the handler the block found, when it ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in STOPS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        signal.raise_signal(caught[0])


STOPS = (signal.SIGINT, signal.SIGTERM)


def _diagnose(rundir: RunDir, summary: dict[str, Any], show: Display) -> list[Finding]:
    """The diagnosis of the finished run from its directory: diagnosis.json, and ``summary["diagnosis"]``.

    A failure here is said and recorded (``diagnosis: null``); the run's own files are already safe.
    """
    try:
        findings = diagnose_run_dir(rundir.path, summary)
    except Exception as e:  # noqa: BLE001 - the training result stands whatever the diagnosis does
        show.warn(f"note: no diagnosis ({type(e).__name__}: {e})")
        summary["diagnosis"] = None
        return []
    summary["diagnosis"] = [f.to_dict() for f in findings]
    return findings
