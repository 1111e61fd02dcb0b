"""Cost of the instruments on R1's networks: one epoch uninstrumented against the default set,
everything but the Hessian, and everything (issue 14: default within 10%, all but the Hessian within 2x).

    python bench/bench_instruments.py [--repeats 3] [--depths 1,4] [--train-size 50000]

Needs full MNIST (`nnlab data fetch mnist`, or NNLAB_DATA naming a folder that holds it).

Each measurement is a 2-epoch run of configs/nielsen/r1.yaml (sigmoid, η 0.1,
mini-batch 10, float32, one BLAS thread) with the hidden layers of
``--depths`` (1: 784-30-10, 4: 784-30-30-30-30-10); the time of its second
epoch is taken, from the end of epoch 1 to the end of epoch 2: the training
steps, the per-epoch evaluation, every instrument at its epoch-end tracking,
and writing the run directory. The four instrument sets run interleaved (a
different order each repeat) so the load of a busy machine falls on all of
them alike; each set's ratio to the uninstrumented epoch of the same repeat
is reported (median and range over repeats), in wall and in process CPU time.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from nnlab.config import load_config  # noqa: E402
from nnlab.experiment import run_experiment  # noqa: E402
from nnlab.training import Hook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OFF = ["gradients", "activations", "batch_stats", "distance"]
SETS = {
    "none": [f"instruments.{k}=false" for k in OFF],
    "default": [],
    "all-but-hessian": ["instruments.per_sample=true", "instruments.histograms=true"],
    "all": ["instruments.per_sample=true", "instruments.histograms=true", "instruments.hessian=true"],
}


class EpochClock(Hook):
    """Wall and CPU time at each epoch end (after every instrument and the run directory's writes)."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def on_epoch_end(self, state) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))


def second_epoch(depth: int, overrides: list[str], train_size: int) -> tuple[float, float]:
    sizes = "[" + ",".join(["784"] + ["30"] * depth + ["10"]) + "]"
    cfg = load_config(
        str(ROOT / "configs/nielsen/r1.yaml"),
        [f"model.sizes={sizes}", "training.epochs=2", f"data.train_size={train_size}", *overrides],
    )
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as d:
        result = run_experiment(cfg, runs_dir=d, display="quiet", hooks=[clock])
    assert result.status == "completed", result.error
    (w1, c1), (w2, c2) = clock.marks
    return w2 - w1, c2 - c1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--depths", default="1,4")
    ap.add_argument("--train-size", type=int, default=50_000)
    args = ap.parse_args()
    names = list(SETS)
    for depth in map(int, args.depths.split(",")):
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        for r in range(args.repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(second_epoch(depth, SETS[name], args.train_size))
        sizes = "-".join(["784"] + ["30"] * depth + ["10"])
        print(f"\n{sizes}, one epoch of {args.train_size:,} images, {args.repeats} repeats (interleaved)")
        print(f"{'instruments':>16} {'wall s':>8} {'CPU s':>8} {'wall ratio':>22} {'CPU ratio':>22}")
        for name in names:
            w = [t[0] for t in times[name]]
            c = [t[1] for t in times[name]]
            rw = [a / b[0] for a, b in zip(w, times["none"])]
            rc = [a / b[1] for a, b in zip(c, times["none"])]
            span = lambda r: f"{statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f})"  # noqa: E731
            print(f"{name:>16} {statistics.median(w):8.2f} {statistics.median(c):8.2f} {span(rw):>22} {span(rc):>22}")


if __name__ == "__main__":
    main()
