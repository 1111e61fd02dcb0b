"""The diagnosis during training (a hook) and at its end (diagnosis.json)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nnlab.diagnosis.base import DIAGNOSIS_FILE, RULES, THRESHOLDS, Finding, diagnose
from nnlab.io import atomic_write_json
from nnlab.results import load_run
from nnlab.training import Hook, TrainState


class DiagnosisHook(Hook):
    """At each epoch end, the rules on the rows recorded so far; each finding that appears is shown once.

    Runs after the recorder has flushed the epoch's rows, and reads them back
    through ``nnlab.results`` like any other reader. ``warn``: where a new
    finding's line goes (the display's ``warn``).

    Reading the run back grows with its files; where that would take more than
    ``FLOOR`` seconds and ``BUDGET`` of the training time so far (a long run
    recording every few steps), epochs are skipped until it would not. A short
    run never reaches the floor, so what it shows does not depend on the
    machine's load. The diagnosis at the end of the run reads everything
    whatever the budget.
    """

    BUDGET = 0.05  # of the wall time since training began
    FLOOR = 1.0  # seconds of reading always allowed

    def __init__(self, run_dir: str | Path, warn, clock=time.perf_counter) -> None:
        self.run_dir = Path(run_dir)
        self.warn = warn
        self.seen: set[str] = set()
        self.failed = False
        self.clock = clock
        self.began = clock()
        self.spent = 0.0  # seconds spent diagnosing so far
        self.checked = 0  # epochs diagnosed

    def on_epoch_end(self, state: TrainState) -> None:
        if self.failed:
            return
        now = self.clock()
        if self.checked and self.spent > self.FLOOR + self.BUDGET * (now - self.began):
            return
        self.checked += 1
        try:
            found = diagnose(load_run(self.run_dir))
        except Exception as e:  # noqa: BLE001 - a reader's problem must not stop training; said once
            self.failed = True
            self.warn(f"note: live diagnosis off for this run ({type(e).__name__}: {e})")
            return
        finally:
            self.spent += self.clock() - now
        for f in found:
            if f.rule not in self.seen:
                self.seen.add(f.rule)
                self.warn(f"epoch {state.epoch}: {f.line()}")


def diagnosis_document(findings: list[Finding]) -> dict[str, Any]:
    """diagnosis.json: the rules checked, the thresholds they used and the findings."""
    return {
        "format": 1,
        "rules": RULES.names(),
        "thresholds": {k: t.value for k, t in THRESHOLDS.items()},
        "findings": [f.to_dict() for f in findings],
    }


def diagnose_run_dir(path: str | Path, summary: dict[str, Any] | None = None) -> list[Finding]:
    """Diagnose the run at ``path`` (with ``summary`` in place of its summary.json, when given, as at the
    end of a run before the summary is written) and write ``diagnosis.json`` there (atomically)."""
    run = load_run(path)
    if summary is not None:
        run.summary = summary
    findings = diagnose(run)
    atomic_write_json(Path(path) / DIAGNOSIS_FILE, diagnosis_document(findings))
    return findings
