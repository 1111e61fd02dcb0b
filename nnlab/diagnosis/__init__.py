"""Diagnosis: why a network is not learning, in plain words with the numbers behind it.

Each rule is one small function registered in ``RULES``; it reads a run as the
run directory holds it (``nnlab.results.Run``: metrics per epoch, gradients and
activations rows, summary status and divergence) and returns a ``Finding`` or
``None``. Every threshold the rules use is in ``THRESHOLDS``, with what it means
(docs/diagnosis.md renders the same table; a test checks that they agree).

    from nnlab.results import load_run
    from nnlab.diagnosis import diagnose
    for f in diagnose(load_run("runs/20261203-050909-dead-relu")):
        print(f.line())

The same rules run live, on the rows recorded so far (``DiagnosisHook``), and at
the end of a run on its directory (``diagnosis.json`` and ``summary.json``'s
``diagnosis`` key).
"""

from __future__ import annotations

from nnlab.diagnosis import rules as _rules  # noqa: F401  (registers the rules)
from nnlab.diagnosis.base import (
    DIAGNOSIS_FILE,
    RULES,
    STRICT_EXIT_CODE,
    THRESHOLDS,
    Finding,
    Threshold,
    diagnose,
    findings_from,
    rule,
)
from nnlab.diagnosis.live import DiagnosisHook, diagnose_run_dir

__all__ = [
    "DIAGNOSIS_FILE",
    "RULES",
    "STRICT_EXIT_CODE",
    "THRESHOLDS",
    "DiagnosisHook",
    "Finding",
    "Threshold",
    "diagnose",
    "diagnose_run_dir",
    "findings_from",
    "rule",
]
