"""Cost of the default instruments on R1's networks (issue 3: under 10% of an epoch).

    python bench/bench_instruments.py [--epochs 2] [--depths 1,4]

Needs full MNIST (`nnlab data fetch mnist`, or NNLAB_DATA naming a folder that holds it).

Trains R1's config on full MNIST with the default instruments, timing every
call into each instrument hook (per-step and per-epoch work) inside the run
itself, and reports that time as a share of the run's wall time (training
steps plus the per-epoch evaluation). Measuring both in one run keeps the
ratio meaningful on a shared machine, where two separate runs differ by more
than the instruments cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nnlab.experiment as experiment
from nnlab.config import load_config
from nnlab.training import EVENTS

ROOT = Path(__file__).resolve().parents[1]
SPENT: dict[str, float] = defaultdict(float)


def timed_class(cls):
    """A subclass whose hook events add their time to SPENT[class name]."""
    attrs = {}
    for ev in EVENTS:
        if ev in vars(cls) or any(ev in vars(b) for b in cls.__mro__[1:-1] if b.__name__ != "Hook"):
            orig = getattr(cls, ev)

            def wrapper(self, state, _orig=orig, _name=cls.__name__):
                t = time.perf_counter()
                _orig(self, state)
                SPENT[_name] += time.perf_counter() - t

            attrs[ev] = wrapper
    return type(cls.__name__, (cls,), attrs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--depths", default="1,4")
    args = ap.parse_args()
    for name in ("ProbeGradients", "ActivationStats", "BatchStats"):
        setattr(experiment, name, timed_class(getattr(experiment, name)))
    for depth in map(int, args.depths.split(",")):
        SPENT.clear()
        sizes = "[" + ",".join(["784"] + ["30"] * depth + ["10"]) + "]"
        cfg = load_config(
            str(ROOT / "configs/nielsen/r1.yaml"), [f"model.sizes={sizes}", f"training.epochs={args.epochs}"]
        )
        with tempfile.TemporaryDirectory() as d:
            result = experiment.run_experiment(cfg, runs_dir=d, display="quiet")
        wall = result.summary["wall_seconds"]
        total = sum(SPENT.values())
        parts = ", ".join(f"{k} {v:.3f} s" for k, v in SPENT.items())
        print(
            f"{sizes}: {args.epochs} epochs in {wall:.2f} s; instruments {total:.3f} s = {100 * total / wall:.1f}% ({parts})"
        )


if __name__ == "__main__":
    main()
