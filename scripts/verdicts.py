"""Published numbers beside nnlab's, with REFERENCE.md's "How close is close" verdicts.

    python scripts/verdicts.py r1 runs/sweeps/<stamp>-depth
    python scripts/verdicts.py r2 runs/sweeps/<stamp>-r2
    python scripts/verdicts.py r4 runs/sweeps/<stamp>-depth-relu [runs/sweeps/<stamp>-depth-relu-wide ...]
    python scripts/verdicts.py r4-sigmoid runs/sweeps/<stamp>-depth-r4-sigmoid
    python scripts/verdicts.py r3 RUN_DIR...          (the R3 runs: norms at epoch 0 and 499)

Reads only the sweep / run directories (nnlab.results); prints Markdown.
Accuracy (R1, R4): holds when the published value lies within mean ± 2 std
or within 0.3 points of the mean, whichever is wider. The mean is over the
seeds that completed and learned; the seeds that diverged, or completed
without ever leaving chance (best validation accuracy < 20%), are counted
beside it, never averaged in (a published number is a run that learned). Norms (R2): each
layer's mean within a factor 1.5 of the published value, and layer 1 < 2 <
... in every seed.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

from nnlab.errors import UserError
from nnlab.results import format_value, load_run, load_sweep, mean_std

R1 = {"784-30-10": 96.48, "784-30-30-10": 96.90, "784-30-30-30-10": 96.57, "784-30-30-30-30-10": 96.53}
R2 = {
    "784-30-30-10": [0.07, 0.31],
    "784-30-30-30-10": [0.012, 0.060, 0.283],
    "784-30-30-30-30-10": [0.003, 0.017, 0.070, 0.285],
}
R4 = {
    "784-100-10": 97.57,
    "784-100-100-10": 97.92,
    "784-100-100-100-10": 97.9,
    "784-100-100-100-100-10": 97.81,
    "784-500-300-150-50-10": 97.98,
    "784-2048-1024-512-256-10": 98.07,
}
# the blog's comparison: the same code with sigmoid hidden layers and N(0,1)/sqrt(n_in) weights
R4_SIGMOID = {"784-100-10": 95.25, "784-100-100-10": 95.87, "784-100-100-100-10": 96.3, "784-100-100-100-100-10": 96.08}


MIN_SEEDS = 5
STUCK = "stuck at chance"
CHANCE = 0.2  # best validation accuracy below this: the net never learned (10 classes: chance is ~0.1)


def _learned(run: Any) -> bool:
    return (run.result("best", "validation_accuracy") or 0.0) >= CHANCE


def groups(paths: list[str]) -> tuple[dict[str, list[Any]], dict[str, dict[str, list[int]]]]:
    """One pass over every sweep given, per network (sizes label): the completed runs that learned, and
    the seeds of the runs that ended without a result, by status (diverged, failed, ...) or stuck at
    chance (completed, but never above CHANCE). Interrupted runs are in neither: they have not ended."""
    learned: dict[str, list[Any]] = defaultdict(list)
    other: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for p in paths:
        for m in load_sweep(p).members:
            sizes, status = format_value("model.sizes", m.run.sizes), m.run.status
            if status == "completed":
                if _learned(m.run):
                    learned[sizes].append(m.run)
                    continue
                status = STUCK
            if status != "interrupted":
                other[sizes][status].append(m.seed)
    return learned, other


def accuracy_holds(published: float, mean: float, std: float) -> bool:
    return abs(published - mean) <= max(2 * std, 0.3)


def pm(m: float, s: float, n: int) -> str:
    return f"{m:.2f} ± {s:.2f}" + ("" if n > 1 else " (1 seed)")


def r1_r4(paths: list[str], published: dict[str, float], best_only: bool) -> None:
    g, other = groups(paths)
    if best_only:
        print(
            "| sizes | published | nnlab best epoch (mean ± std) | seeds that learned | verdict | best epochs | wall per run |"
        )
        print("|---|---:|---:|---:|---|---|---:|")
    else:
        print("| sizes | published | nnlab final epoch | nnlab best epoch | seeds | verdict (final / best) |")
        print("|---|---:|---:|---:|---:|---|")
    for sizes, pub in published.items():
        runs = g.get(sizes)
        if not runs:
            continue
        fm, fs, n = mean_std(100 * r.result("final", "validation_accuracy") for r in runs)
        bm, bs, _ = mean_std(100 * r.result("best", "validation_accuracy") for r in runs)
        vb = "holds" if accuracy_holds(pub, bm, bs) else "does not hold"
        if n < MIN_SEEDS:  # "How close is close" asks for a mean and std over at least 5 seeds
            vb += f" ({n} seed{'s' if n > 1 else ''}; the rule asks for {MIN_SEEDS})"
        lost = "; ".join(
            f"{status} {len(seeds)} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))})"
            for status, seeds in sorted(other.get(sizes, {}).items())
        )
        n_text = f"{n}; {lost}" if lost else str(n)
        if best_only:
            epochs = sorted(r.best_epoch() for r in runs)
            wall, _, _ = mean_std(r.wall_seconds for r in runs)
            print(
                f"| {sizes} | {pub:.2f} | {pm(bm, bs, n)} | {n_text} | {vb} | {', '.join(map(str, epochs))} "
                f"of {runs[0].final_epoch} | {wall:.0f} s |"
            )
        else:
            vf = "holds" if accuracy_holds(pub, fm, fs) else "does not hold"
            print(f"| {sizes} | {pub:.2f} | {pm(fm, fs, n)} | {pm(bm, bs, n)} | {n_text} | {vf} / {vb} |")


def r2(paths: list[str]) -> None:
    g, _ = groups(paths)
    print("| sizes | layer | published | nnlab mean ± std | ratio | seeds | verdict |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for sizes, pub in R2.items():
        runs = g.get(sizes) or []
        norms = [[r.delta_norms("initial")[l] for l in range(1, len(pub) + 1)] for r in runs]
        ordered = all(all(a < b for a, b in zip(v, v[1:])) for v in norms)
        for i, p in enumerate(pub):
            m, s, n = mean_std(v[i] for v in norms)
            ratio = m / p
            ok = 1 / 1.5 <= ratio <= 1.5 and ordered
            print(
                f"| {sizes} | {i + 1} | {p:g} | {m:.3g} ± {s:.2g} | {ratio:.2f} | {n} | "
                f"{'holds' if ok else 'does not hold'}{'' if ordered else ' (order broken in some seed)'} |"
            )
        print(
            f"| {sizes} | order 1 < 2 < ... | | {'in every seed' if ordered else 'NOT in every seed'} | | {len(norms)} | |"
        )


def r3(paths: list[str]) -> None:
    print("| hidden layers | layer | epoch 0 | epoch 499 | epoch 500 |")
    print("|---:|---:|---:|---:|---:|")
    for p in paths:
        run = load_run(p)
        series = run.gradients["delta_norm"]
        for layer in run.hidden_layers:
            s = series[layer]
            at = {int(e): v for e, v in zip(s.epochs, s.values)}
            print(
                f"| {len(run.hidden_layers)} | {layer} | {at[0]:.3g} | {at.get(499, float('nan')):.3g} | {at.get(500, float('nan')):.3g} |"
            )


def main() -> None:
    if len(sys.argv) < 3:
        print("usage: verdicts.py r1|r2|r3|r4|r4-sigmoid DIR...", file=sys.stderr)
        sys.exit(2)
    which, paths = sys.argv[1], sys.argv[2:]
    if which == "r1":
        r1_r4(paths, R1, best_only=False)
    elif which == "r4":
        r1_r4(paths, R4, best_only=True)
    elif which == "r4-sigmoid":
        r1_r4(paths, R4_SIGMOID, best_only=True)
    elif which == "r2":
        r2(paths)
    elif which == "r3":
        r3(paths)
    else:
        print("usage: verdicts.py r1|r2|r3|r4|r4-sigmoid DIR...", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # not a sweep or run directory: one line each, no traceback
        print("\n".join(f"error: {line}" for line in err.lines), file=sys.stderr)
        sys.exit(2)
