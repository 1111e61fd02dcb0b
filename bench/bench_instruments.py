"""Cost of the default instruments on R1's networks (issue 3: under 10% of an epoch).

    NNLAB_DATA=../shared/data python bench/bench_instruments.py [--epochs 3] [--depths 1,4]

Runs the R1 config on full MNIST with the default instruments and with all
of them switched off, and compares wall time per epoch: the training steps
(metrics.csv `seconds`, which includes the per-step hooks) plus the
per-epoch measurements (total wall time / epochs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nnlab.config import load_config
from nnlab.experiment import run_experiment
from nnlab.rundir import read_metrics

ROOT = Path(__file__).resolve().parents[1]
OFF = ["instruments.gradients=false", "instruments.activations=false", "instruments.batch_stats=false",
       "instruments.train_metrics=none"]


def timed(sizes: str, epochs: int, extra: list[str]) -> tuple[float, float]:
    cfg = load_config(str(ROOT / "configs/nielsen/r1.yaml"), [f"model.sizes={sizes}", f"training.epochs={epochs}", *extra])
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        result = run_experiment(cfg, runs_dir=d, display="quiet")
        wall = time.perf_counter() - t0
        steps = statistics.median(r["seconds"] for r in read_metrics(result.run_dir)[1:])
    return steps, wall / epochs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--depths", default="1,4")
    args = ap.parse_args()
    for depth in map(int, args.depths.split(",")):
        sizes = "[" + ",".join(["784"] + ["30"] * depth + ["10"]) + "]"
        on_steps, on_wall = timed(sizes, args.epochs, [])
        off_steps, off_wall = timed(sizes, args.epochs, OFF)
        print(f"{sizes}: steps/epoch {off_steps:.3f} s -> {on_steps:.3f} s with instruments "
              f"({100 * (on_steps / off_steps - 1):+.1f}%); wall/epoch incl. evaluation {off_wall:.3f} s -> "
              f"{on_wall:.3f} s ({100 * (on_wall / off_wall - 1):+.1f}%)")


if __name__ == "__main__":
    main()
