"""Cost of the live diagnosis (the warnings shown during `nnlab train`) on a run that records often.

    python bench/bench_live_diagnosis.py [--epochs 40] [--every 5] [--repeats 3]

The quickstart net (embedded data, no download) trained for ``--epochs`` with
the probe gradients recorded every ``--every`` steps, so gradients.csv grows
large and the live diagnosis, which reads the run back at epoch ends, has the
most to read. Three ways, interleaved each repeat: no live diagnosis (the
quiet display), the live diagnosis at every epoch (as before it had a time
budget), and with its budget (``DiagnosisHook.FLOOR``, 1 s, then ``BUDGET``, 5% of the training
time). Median wall and process CPU time, and each one's ratio to the first.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

from nnlab.config import load_config
from nnlab.diagnosis import live
from nnlab.experiment import run_experiment

ROOT = Path(__file__).resolve().parents[1]
WAYS = {  # name -> (DiagnosisHook.BUDGET, display)
    "no live diagnosis": (None, "quiet"),
    "every epoch": (float("inf"), "plain"),
    "5% budget": (0.05, "plain"),
}


def once(sets: list[str], budget: float | None, display: str) -> tuple[float, float]:
    live.DiagnosisHook.BUDGET = budget if budget is not None else live.DiagnosisHook.BUDGET
    cfg = load_config(ROOT / "configs" / "quickstart.yaml", sets)
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with tempfile.TemporaryDirectory() as d, quiet[0], quiet[1]:
        wall, cpu = time.perf_counter(), time.process_time()
        run_experiment(cfg, runs_dir=d, display=display)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sets = [f"training.epochs={args.epochs}", f"instruments.gradients_every_steps={args.every}"]
    times: dict[str, list[tuple[float, float]]] = {w: [] for w in WAYS}
    budget = live.DiagnosisHook.BUDGET
    for _ in range(args.repeats):
        for way, (b, display) in WAYS.items():
            times[way].append(once(sets, b, display))
            live.DiagnosisHook.BUDGET = budget
    base_wall = statistics.median(t[0] for t in times["no live diagnosis"])
    base_cpu = statistics.median(t[1] for t in times["no live diagnosis"])
    print(f"quickstart, {args.epochs} epochs, probe gradients every {args.every} steps, {args.repeats} repeats")
    for way, ts in times.items():
        wall, cpu = statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)
        print(f"  {way:18s} {wall:6.1f} s wall ({wall / base_wall:.2f}x)  {cpu:6.1f} s CPU ({cpu / base_cpu:.2f}x)")


if __name__ == "__main__":
    main()
