"""One epoch of W1, W2, W3 (bench_epoch.py) with two versions of nnlab, interleaved in one run.

    .venv/bin/python bench/before_after.py --old REF [--new REF] [--workloads W1,W2,W3] [--repeats 5]

``--old`` and ``--new`` are git revisions (``--new`` defaults to the working
tree); each is exported with ``git archive`` into a temporary folder. Every
timing is a fresh subprocess with one BLAS thread that puts that version's
``nnlab`` first on ``sys.path`` and runs ``bench_epoch.time_epoch`` (this
checkout's bench_epoch.py, so both versions run the very same workload). The
versions alternate (old, new, old, new, ...) so a busy moment of a shared
machine hits both alike. Printed: median wall and CPU seconds per epoch of
each version and new/old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import json, sys, time
sys.path[:0] = [{tree!r}, {bench!r}]
import numpy as np
import nnlab
assert nnlab.__file__.startswith({tree!r}), nnlab.__file__
import bench_epoch as b
X, y = b.mnist_like(b.N_TRAIN, np.float32)
c = time.process_time()
wall = b.time_epoch(b.WORKLOADS[{workload!r}], X, y, np.float32, seed={seed})
print(json.dumps({{"wall": wall, "cpu": time.process_time() - c}}))
"""


def export(rev: str | None, into: Path) -> Path:
    """The source tree of ``rev`` (None: this working tree) as a folder holding nnlab/."""
    if rev is None:
        return ROOT
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "nnlab"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="git revision of the version before")
    ap.add_argument("--new", default=None, help="git revision of the version after (default: the working tree)")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, **{v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"old": export(args.old, Path(tmp) / "old"), "new": export(args.new, Path(tmp) / "new")}
        print(f"old: {args.old}   new: {args.new or 'working tree'}   (one BLAS thread, {args.repeats} repeats)")
        print(
            f"{'workload':<9} {'old wall':>9} {'new wall':>9} {'new/old':>8} {'old cpu':>9} {'new cpu':>9} {'new/old':>8}"
        )
        for w in args.workloads.split(","):
            times: dict[str, list[dict]] = {"old": [], "new": []}
            for r in range(args.repeats):
                for version in ("old", "new") if r % 2 == 0 else ("new", "old"):
                    code = CHILD.format(tree=str(trees[version]), bench=str(HERE), workload=w, seed=r)
                    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
                    if out.returncode != 0:
                        sys.exit(f"{version} {w} failed:\n{out.stderr}")
                    times[version].append(json.loads(out.stdout.strip().splitlines()[-1]))
            med = {v: {k: statistics.median(t[k] for t in ts) for k in ("wall", "cpu")} for v, ts in times.items()}
            o, n = med["old"], med["new"]
            print(
                f"{w:<9} {o['wall']:>9.3f} {n['wall']:>9.3f} {n['wall'] / o['wall']:>8.2f}"
                f" {o['cpu']:>9.3f} {n['cpu']:>9.3f} {n['cpu'] / o['cpu']:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
