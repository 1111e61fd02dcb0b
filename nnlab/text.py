"""Small helpers for the words nnlab prints."""

from __future__ import annotations


def plural(n: object, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` agreeing: "1 epoch", "2 epochs", "0 epochs" (``many`` for an irregular plural)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def train_label(train_metrics: object = "probe") -> str:
    """What the ``train_*`` columns were measured on, as a label: "train (probe)" or "train (full)".

    ``instruments.train_metrics: probe`` (the default) measures the training
    accuracy and loss on the probe set (the first ``probe_size`` training
    examples), ``full`` on the whole training set. The CSV column keeps its
    name (``train_accuracy``); labels and headers say which it was.
    """
    return "train (full)" if train_metrics == "full" else "train (probe)"
