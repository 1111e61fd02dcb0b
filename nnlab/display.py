"""What a training run shows on the terminal: a hook that only reads the state.

``rich``: progress bars for epochs and batches plus a line per epoch;
``plain``: one short line per epoch (logs, CI); ``quiet``: nothing.
``auto`` picks rich on a terminal and plain otherwise.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from typing import Any

from nnlab.text import plural
from nnlab.training import Hook, TrainState

MODES = ("auto", "rich", "plain", "quiet")
_ERROR_LINE = re.compile(r"(epoch \d+: )?error:")  # a finding of severity error, live or at the end


def resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"display must be one of {MODES}")
    if mode == "auto":
        return "rich" if sys.stdout.isatty() else "plain"
    return mode


def _pct(v: float | None) -> str:
    return "   -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:6.2f}"


def epoch_line(epoch: int, epochs: int, m: dict[str, float], seconds: float, train: str = "train (probe)") -> str:
    """One epoch's line; ``train`` labels the train_* numbers (nnlab.text.train_label)."""
    parts = [f"epoch {epoch:>{len(str(epochs))}}/{epochs}"]
    if "train_loss" in m or "train_accuracy" in m:  # "train (probe) loss 0.3522 97.90%"
        bits = [train]
        if "train_loss" in m:
            bits.append(f"loss {m['train_loss']:.4f}")
        if "train_accuracy" in m:
            bits.append(f"{_pct(m['train_accuracy']).strip()}%")
        parts.append(" ".join(bits))
    for name in ("validation", "test"):
        if f"{name}_accuracy" in m:
            parts.append(f"{name} {_pct(m[f'{name}_accuracy']).strip()}%")
    parts.append(f"{seconds:.1f} s")
    return "  ".join(parts)


class Display(Hook):
    """Progress for one run. ``start()``/``stop()`` bracket the live display."""

    def __init__(self, mode: str, title: str, console: Any = None, train: str = "train (probe)") -> None:
        self.mode = resolve_mode(mode)
        self.title = title
        self.train = train  # what the train_* numbers were measured on (nnlab.text.train_label)
        self._progress = None
        if self.mode == "rich":
            from rich.console import Console

            self.console = console or Console()
        else:
            self.console = None

    def print(self, text: str = "") -> None:
        if self.mode == "quiet":
            return
        if self.console is not None:
            self.console.print(text, highlight=False)
        else:
            print(text, flush=True)

    def warn(self, text: str) -> None:
        """One line that must not be missed (a finding of the live diagnosis): above the progress bars."""
        if self.mode == "quiet":
            return
        if self.console is not None:
            from rich.text import Text

            style = "red" if _ERROR_LINE.match(text) else "yellow"
            self.console.print(Text(text, style=style))  # the progress bars' console too: printed above them
        else:
            print(text, flush=True)

    # -- live display -------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        if self.mode != "rich":
            if self.mode == "plain":
                todo = plural(state.epochs - state.epoch, "epoch")
                self.print(f"{self.title}: {todo} of {plural(state.batches_per_epoch, 'batch', 'batches')}")
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._epochs = self._progress.add_task("epochs", total=state.epochs, completed=state.epoch, info="")
        self._batches = self._progress.add_task("batches", total=state.batches_per_epoch, info="")
        self._every = max(1, state.batches_per_epoch // 50)
        self._progress.start()

    def on_step_end(self, state: TrainState) -> None:
        if self._progress is not None and (state.batch_in_epoch + 1) % self._every == 0:
            loss = state.batch_loss
            self._progress.update(
                self._batches, completed=state.batch_in_epoch + 1, info=f"loss {loss:.4f}" if loss == loss else ""
            )

    def on_epoch_end(self, state: TrainState) -> None:
        if self.mode == "quiet":
            return
        line = epoch_line(state.epoch, state.epochs, state.metrics, state.epoch_seconds, self.train)
        if self._progress is not None:
            acc = state.metrics.get("validation_accuracy")
            self._progress.update(self._epochs, completed=state.epoch, info=f"val {_pct(acc).strip()}%")
            self._progress.reset(self._batches, total=state.batches_per_epoch, info="")
            self._progress.console.print(line, highlight=False)
        else:
            self.print(line)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_end(self, state: TrainState) -> None:
        self.stop()

    # -- the end ------------------------------------------------------------
    def final(
        self, run_dir: str, summary: dict[str, Any], status: str, error: str | None, findings: Sequence[Any] = ()
    ) -> None:
        """The results; ``findings``: the diagnosis (``nnlab.diagnosis.Finding``), none for a healthy run."""
        if self.mode == "quiet":
            return
        if self.mode == "rich":
            self.console.print(results_table(summary, self.train))
        else:
            for line in summary_lines(summary):
                self.print(line)
        if error:
            self.print(f"{status}: {error}")
        if summary.get("stopped_early"):
            self.print(early_stop_line(summary))
        if "diagnosis" in summary:
            for line in diagnosis_lines(findings):
                if self.console is not None and line.startswith(("error", "warning")):
                    self.warn(line)
                elif self.console is not None:
                    from rich.text import Text

                    self.console.print(Text(line))
                else:
                    self.print(line)
        self.print(f"run directory: {run_dir}")


def diagnosis_lines(findings: Sequence[Any]) -> list[str]:
    """ "diagnosis: no findings", or a line per finding with what to try under it."""
    if not findings:
        return ["diagnosis: no findings (docs/diagnosis.md)"]
    lines = [f"diagnosis: {plural(len(findings), 'finding')} (docs/diagnosis.md)"]
    for f in findings:
        lines.append(f.line())
        if f.remedies:
            lines.append("  try: " + "; ".join(f.remedies))
    return lines


def early_stop_line(s: dict[str, Any]) -> str:
    """Why and when early stopping ended the run, and where its best network is."""
    from nnlab.rundir import BEST_WEIGHTS

    reason = str(s["stopped_early"]).replace("_", " ")  # "validation_accuracy" -> "validation accuracy"
    best = (s.get("best") or {}).get("epoch")
    where = f"best epoch {best}, weights in {BEST_WEIGHTS}" if best is not None else "no best epoch"
    return f"early stopping: {reason}; stopped after epoch {s.get('epochs_completed')} ({where})"


def _fmt_norms(values: Sequence[float] | None) -> list[str]:
    return [f"{v:.3g}" for v in values] if values else []


def summary_lines(s: dict[str, Any]) -> list[str]:
    f, b = s.get("final") or {}, s.get("best") or {}
    lines = [
        f"status {s.get('status')}: {plural(s.get('epochs_completed'), 'epoch')} in {s.get('wall_seconds', 0):.1f} s",
        f"final (epoch {f.get('epoch')}): validation {_pct(f.get('validation_accuracy')).strip()}%"
        f"  test {_pct(f.get('test_accuracy')).strip()}%",
        f"best  (epoch {b.get('epoch')}): validation {_pct(b.get('validation_accuracy')).strip()}%"
        f"  test {_pct(b.get('test_accuracy')).strip()}%",
    ]
    dn = s.get("delta_norms") or {}
    if dn.get("initial"):
        lines.append("||delta^l|| at init:  " + "  ".join(_fmt_norms(dn["initial"])))
        lines.append("||delta^l|| at end:   " + "  ".join(_fmt_norms(dn.get("final"))))
    return lines


def results_table(s: dict[str, Any], train: str = "train (probe)"):
    from rich.table import Table

    f, b = s.get("final") or {}, s.get("best") or {}
    t = Table(
        title=f"{s.get('status')}: {plural(s.get('epochs_completed'), 'epoch')}, {s.get('wall_seconds', 0):.1f} s"
    )
    t.add_column("")
    t.add_column("epoch", justify="right")
    for name in (train, "validation", "test"):
        t.add_column(f"{name} %", justify="right")
    t.add_row("final", str(f.get("epoch")), *(_pct(f.get(f"{n}_accuracy")) for n in ("train", "validation", "test")))
    t.add_row(
        "best",
        str(b.get("epoch")),
        _pct(b.get("train_accuracy")),
        _pct(b.get("validation_accuracy")),
        _pct(b.get("test_accuracy")),
    )
    dn = s.get("delta_norms") or {}
    if not dn.get("initial"):
        return t
    from rich.console import Group

    n = Table(title="per-layer ||δ^l|| (probe set)")
    n.add_column("")
    L = len(dn["initial"])
    for l in range(1, L + 1):
        n.add_column("output" if l == L else f"hidden {l}", justify="right")
    n.add_row("initial", *_fmt_norms(dn["initial"]))
    if dn.get("final"):
        n.add_row("final", *_fmt_norms(dn["final"]))
    return Group(t, n)
