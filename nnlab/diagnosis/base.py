"""The parts every rule shares: ``Finding``, the thresholds table and the rule registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from nnlab.registry import Registry
from nnlab.results import DIAGNOSIS_FILE, Run  # noqa: F401 (DIAGNOSIS_FILE: nnlab.diagnosis names it)

#: ``--strict`` / ``output.strict``: a run that completed with findings exits with this code
STRICT_EXIT_CODE = 5
SEVERITIES = ("error", "warning")


@dataclass
class Finding:
    """One thing that went wrong in a run, said in plain words with the numbers behind it.

    ``rule``: the registered rule's name; ``message``: one line; ``evidence``: the
    numbers it rests on; ``remedies``: what to try, as nnlab settings or commands.
    """

    rule: str
    severity: str  # "warning" or "error"
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The rule's name in words: "vanishing gradient"."""
        return self.rule.replace("_", " ")

    def line(self) -> str:
        """ "warning: vanishing gradient: hidden layer 1 learns 97x slower than hidden layer 4 (...)"."""
        return f"{self.severity}: {self.title}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            rule=str(d.get("rule")),
            severity=str(d.get("severity", "warning")),
            message=str(d.get("message", "")),
            evidence=dict(d.get("evidence") or {}),
            remedies=[str(r) for r in d.get("remedies") or []],
        )


@dataclass(frozen=True)
class Threshold:
    """One number a rule compares against, with what it means (rendered into docs/diagnosis.md)."""

    value: float
    rule: str
    meaning: str


#: Every threshold of every rule, in one place. docs/diagnosis.md shows this table
#: (tests/test_diagnosis.py checks that the two agree).
THRESHOLDS: dict[str, Threshold] = {
    "vanishing_factor": Threshold(
        10.0,
        "vanishing_gradient",
        "the last hidden layer's ‖δ‖ divided by the earliest hidden layer's (layers of the same kind) on the probe"
        " set, at initialization or at the last measurement; at or above it the earliest layer learns too slowly",
    ),
    "exploding_factor": Threshold(
        10.0,
        "exploding_gradient",
        "the earliest hidden layer's ‖δ‖ divided by the last hidden layer's (same kind), at initialization or at"
        " the last measurement; at or above it the gradient grows on its way back to the input",
    ),
    "exploding_growth": Threshold(
        100.0,
        "exploding_gradient",
        "a layer's ‖δ‖ at its largest divided by its value at the first measurement; at or above it the gradient"
        " grows during training",
    ),
    "dead_share": Threshold(
        0.5,
        "dead_units",
        "share of a dense hidden layer's units that are dead (f'(z) = 0 on every probe example) at the last"
        " measurement (conv layers are not counted: a unit there is one filter at one position)",
    ),
    "saturated_share": Threshold(
        0.6,
        "saturated_units",
        "share of a hidden layer's (example, unit) pairs with f'(z) below 1% of the activation's largest slope,"
        " at the last measurement (output layers are not counted: a confident sigmoid output saturates by design)",
    ),
    "stalled_epochs": Threshold(
        2,
        "learning_stalled",
        "epochs completed before accuracy near chance counts as stalled",
    ),
    "stalled_margin": Threshold(
        1.5,
        "learning_stalled",
        "validation accuracy at or below this multiple of chance (1 / number of classes) is near chance",
    ),
    "overfit_gap": Threshold(
        0.10,
        "overfitting",
        "train (probe) accuracy minus validation accuracy at or above which the net memorizes; it must hold at"
        " the last epoch and in the median of the last overfit_window epochs",
    ),
    "overfit_window": Threshold(
        3,
        "overfitting",
        "epochs the gap must last (the median over them), and the span its trend is read over",
    ),
}


def threshold(name: str) -> float:
    return THRESHOLDS[name].value


#: a rule: a run -> a Finding, or None when the run shows no sign of it
Rule = Callable[[Run], "Finding | None"]
RULES: Registry[Rule] = Registry("diagnosis rule")


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register a rule under ``name`` (the name its findings carry)."""
    return RULES.register(name)


def diagnose(run: Run, rules: list[str] | None = None) -> list[Finding]:
    """Every registered rule (or those named) on ``run``: errors first, then by rule name."""
    found = [f for name in (rules or RULES.names()) if (f := RULES.get(name)(run)) is not None]
    return sorted(found, key=lambda f: (SEVERITIES.index(f.severity), f.rule))


def findings_from(summary: dict[str, Any] | None) -> list[Finding] | None:
    """The findings a run recorded in its summary.json (None: a run diagnosed before diagnosis existed)."""
    recorded = (summary or {}).get("diagnosis")
    if recorded is None:
        return None
    return [Finding.from_dict(d) for d in recorded]
