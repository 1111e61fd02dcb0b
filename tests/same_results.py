"""Comparing two run directories: bit-identical results, wall-clock times aside.

Imported as ``from same_results import ...`` by the resume and kill tests.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nnlab.io import load_npz


def meta(run_dir: Path) -> dict:
    return json.loads((run_dir / "meta.json").read_text())


def metrics_without_seconds(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def summary_without_wall(run_dir: Path) -> dict:
    s = json.loads((run_dir / "summary.json").read_text())
    s.pop("wall_seconds")
    return s


def assert_same_results(a: Path, b: Path) -> None:
    """Parameters (final and best epoch's), optimizer state, metrics rows (but ``seconds``), gradients.csv,
    activations.csv and the summary (but its wall time) bit for bit; both completed."""
    for name in ("weights.npz", "weights-best.npz", "optimizer.npz"):
        wa, wb = load_npz(a / name), load_npz(b / name)
        assert wa.keys() == wb.keys()
        for k in wa:
            assert wa[k].dtype == wb[k].dtype and wa[k].tobytes() == wb[k].tobytes(), f"{name}:{k}"
    assert metrics_without_seconds(a) == metrics_without_seconds(b)
    for name in ("gradients.csv", "activations.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert summary_without_wall(a) == summary_without_wall(b)
    assert meta(a)["status"] == meta(b)["status"] == "completed"
    assert meta(a)["epochs_completed"] == meta(b)["epochs_completed"]
