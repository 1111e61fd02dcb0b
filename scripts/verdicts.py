"""Published numbers beside nnlab's, with the "How close is close" verdicts of docs/protocols.md.

    python scripts/verdicts.py r1 runs/sweeps/<stamp>-depth
    python scripts/verdicts.py r2 runs/sweeps/<stamp>-r2
    python scripts/verdicts.py r4 runs/sweeps/<stamp>-depth-relu [runs/sweeps/<stamp>-depth-relu-wide ...]
    python scripts/verdicts.py r4-sigmoid runs/sweeps/<stamp>-depth-r4-sigmoid
    python scripts/verdicts.py r3 RUN_DIR...          (the R3 runs: norms at epoch 0 and 499)
    python scripts/verdicts.py r4-stability runs/sweeps/<stamp>-r4-stability
    python scripts/verdicts.py r6 runs/sweeps/<stamp>-r6

and the teaching tables of docs/reproductions.md (one seed per configuration):

    python scripts/verdicts.py activations|optimizers|init|regularization runs/sweeps/<stamp>-<that sweep>

Reads only the sweep / run directories (nnlab.results); prints Markdown.
The rules are docs/protocols.md's "How close is close".
Accuracy (R1, R4): holds when the published value lies within mean ± 2 std
or within 0.3 points of the mean, whichever is wider, over at least 5 seeds.
The mean is over the seeds that completed and learned; the seeds that
diverged, or completed without ever leaving chance (best validation accuracy
< 20%), are counted beside it, never averaged in (a published number is a
run that learned). Norms (R2): every completed seed counts (R2 measures
untrained nets, whose accuracy is chance by design); each layer's mean over
at least 10 seeds within a factor 1.5 of the published value, and layer
1 < 2 < ... in every seed.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

from nnlab.errors import UserError
from nnlab.results import config_value, format_value, load_run, load_sweep, mean_std

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


MIN_SEEDS = 5  # accuracy (R1, R4)
MIN_SEEDS_NORMS = 10  # gradient norms (R2)
STUCK = "stuck at chance"
CHANCE = 0.2  # best validation accuracy below this: the net never learned (10 classes: chance is ~0.1)


# Nielsen ch. 6, by architecture and hidden activation; each published figure is the best of 3 runs
R6 = {
    ("dense100-dense10", "sigmoid"): 97.80,
    ("conv20x5-pool2-dense100-dense10", "sigmoid"): 98.78,
    ("conv20x5-pool2-conv40x5-pool2-dense100-dense10", "sigmoid"): 99.06,
    ("conv20x5-pool2-conv40x5-pool2-dense100-dense10", "relu"): 99.23,
}


def _learned(run: Any) -> bool:
    return (run.result("best", "validation_accuracy") or 0.0) >= CHANCE


def groups(paths: list[str], accuracy: bool = True) -> tuple[dict[str, list[Any]], dict[str, dict[str, list[int]]]]:
    """One pass over every sweep given, per network (sizes label): the completed runs that count, and
    the seeds of the runs that ended without a result, by status (diverged, failed, ...) or stuck at
    chance. Interrupted runs are in neither: they have not ended.

    ``accuracy``: an accuracy experiment (R1, R4), where a completed run counts only if it learned
    (best validation accuracy above CHANCE; otherwise it is listed as stuck at chance). R2 measures
    untrained nets (0 epochs, accuracy at chance by design): there every completed run counts."""
    learned: dict[str, list[Any]] = defaultdict(list)
    other: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for p in paths:
        for m in load_sweep(p).members:
            sizes, status = format_value("model.sizes", m.run.sizes), m.run.status
            if status == "completed":
                if not accuracy or _learned(m.run):
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
    g, _ = groups(paths, accuracy=False)
    print("| sizes | layer | published | nnlab mean ± std | ratio | seeds | verdict |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for sizes, pub in R2.items():
        runs = g.get(sizes) or []
        if not runs:  # nothing to average: say so, never a "nan ± nan" row
            print(f"| {sizes} | | {', '.join(f'{p:g}' for p in pub)} | no completed run | | 0 | |")
            continue
        norms = [[r.delta_norms("initial")[l] for l in range(1, len(pub) + 1)] for r in runs]
        ordered = all(all(a < b for a, b in zip(v, v[1:])) for v in norms)
        few = "" if len(norms) >= MIN_SEEDS_NORMS else f" ({len(norms)} seeds; the rule asks for {MIN_SEEDS_NORMS})"
        for i, p in enumerate(pub):
            m, s, n = mean_std(v[i] for v in norms)
            ratio = m / p
            ok = 1 / 1.5 <= ratio <= 1.5 and ordered
            print(
                f"| {sizes} | {i + 1} | {p:g} | {m:.3g} ± {s:.2g} | {ratio:.2f} | {n} | "
                f"{'holds' if ok else 'does not hold'}{'' if ordered else ' (order broken in some seed)'}{few} |"
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


def r4_stability(paths: list[str]) -> None:
    """Per network and learning rate: how many seeds diverged (r4-stability's one short epoch)."""
    cells: dict[tuple[str, float], list[tuple[int, str]]] = defaultdict(list)
    for p in paths:
        for m in load_sweep(p).members:
            key = (format_value("model.sizes", m.run.sizes), float(config_value(m.run, "optimizer.learning_rate")))
            cells[key].append((m.seed, m.run.status))
    print("| network | learning rate | diverged |")
    print("|---|---:|---:|")
    for (sizes, lr), runs in cells.items():
        div = sorted(seed for seed, status in runs if status == "diverged")
        which = f" (seed{'s' if len(div) > 1 else ''} {', '.join(map(str, div))})" if div else ""
        print(f"| {sizes} | {lr:g} | {len(div)} of {len(runs)}{which} |")


# -- teaching tables: one seed per configuration ------------------------------------------------
def _members(paths: list[str]) -> list[Any]:
    return [m for p in paths for m in load_sweep(p).members]


def _name(m: Any, key: str) -> str:
    """A member's value of ``key``: its grid point's, else its config's; a mapping by its name."""
    v = m.point.get(key, config_value(m.run, key))
    return str(v.get("name") if isinstance(v, dict) else v)


def _pct(run: Any, part: str, column: str = "validation_accuracy") -> str:
    v = run.result(part, column)
    return "" if v is None else f"{100 * v:.2f}"


def _ratio(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def activations(paths: list[str]) -> None:
    """Best validation accuracy and ||δ^l|| at initialization of the first, middle and last hidden layer."""
    members = _members(paths)
    hidden = members[0].run.hidden_layers if members else [1]
    first, mid, last = hidden[0], hidden[len(hidden) // 2], hidden[-1]
    print(f"| activation | best validation % | ‖δ^{first}‖ | ‖δ^{mid}‖ | ‖δ^{last}‖ | ‖δ^{last}‖ / ‖δ^{first}‖ |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in members:
        d = m.run.delta_norms("initial")
        print(
            f"| {_name(m, 'model.activation')} | {_pct(m.run, 'best')} | {d[first]:.3g} | {d[mid]:.3g}"
            f" | {d[last]:.3g} | {_ratio(d[last] / d[first])} |"
        )


def optimizers(paths: list[str]) -> None:
    print("| optimizer | learning rate | best validation % |")
    print("|---|---:|---:|")
    for m in _members(paths):
        opt = m.run.config.get("optimizer") or {}
        name = opt.get("name")
        if name == "momentum":
            name = f"{'Nesterov momentum' if opt.get('nesterov') else 'momentum'} (α {opt.get('momentum'):g})"
        print(f"| {name} | {opt.get('learning_rate'):g} | {_pct(m.run, 'best')} |")


INIT_LABELS = {"large": "large N(0, 1)", "nielsen": "Nielsen N(0, 1/n_in)", "he": "He N(0, 2/n_in)"}


def init(paths: list[str]) -> None:
    members = _members(paths)
    hidden = members[0].run.hidden_layers if members else []
    print("| weights | best validation % | " + " | ".join(f"‖δ^{l}‖" for l in hidden) + " |")
    print("|---|---:|" + "---:|" * len(hidden))
    for m in members:
        d = m.run.delta_norms("initial")
        w = _name(m, "model.init.weights")
        norms = " | ".join(f"{d[l]:.3g}" for l in hidden)
        print(f"| {INIT_LABELS.get(w, w)} | {_pct(m.run, 'best')} | {norms} |")


def regularization(paths: list[str]) -> None:
    print("| L2 λ | dropout | final train % | final validation % | gap |")
    print("|---:|---:|---:|---:|---:|")
    for m in _members(paths):
        r = m.run
        train, valid = r.result("final", "train_accuracy"), r.result("final", "validation_accuracy")
        gap = "" if train is None or valid is None else f"{100 * (train - valid):.2f}"
        print(
            f"| {config_value(r, 'regularization.l2'):g} | {config_value(r, 'regularization.dropout'):g}"
            f" | {_pct(r, 'final', 'train_accuracy')} | {_pct(r, 'final')} | {gap} |"
        )


def at_best_validation(run: Any) -> tuple[float, int]:
    """(test accuracy %, epoch) at the epoch of best validation accuracy, ties to the LATER epoch
    (network3.SGD compares with >=), from metrics.csv."""
    epochs, valid, test = (run.metrics.get(k) for k in ("epoch", "validation_accuracy", "test_accuracy"))
    best = None
    for e, v, t in zip(epochs, valid, test):
        if e >= 1 and v == v and (best is None or v >= best[0]):
            best = (v, t, int(e))
    return 100 * best[1], best[2]


def r6(paths: list[str]) -> None:
    """Test accuracy at the best-validation epoch per network, mean ± std over seeds and the best seed."""
    runs: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for m in _members(paths):
        if m.run.status == "completed":
            act = (m.run.config.get("model") or {}).get("activation")
            runs[(m.run.architecture, act if isinstance(act, str) else str(act))].append(m.run)
    print(
        "| network | hidden | published | nnlab test % (mean ± std) | best seed | seeds | verdict | best epochs | wall per run |"
    )
    print("|---|---|---:|---:|---:|---:|---|---|---:|")
    for (arch, act), pub in R6.items():
        group = runs.get((arch, act))
        if not group:
            print(f"| {arch} | {act} | {pub:.2f} | not run | | 0 | | | |")
            continue
        tests = [at_best_validation(r) for r in group]
        m, sd, n = mean_std(t for t, _ in tests)
        verdict = "holds" if accuracy_holds(pub, m, sd) else "does not hold"
        if n < MIN_SEEDS:
            verdict += f" ({n} seed{'s' if n > 1 else ''}; the rule asks for {MIN_SEEDS})"
        wall, _, _ = mean_std(r.wall_seconds for r in group)
        epochs = ", ".join(str(e) for _, e in sorted(tests, key=lambda t: t[1]))
        print(
            f"| {arch} | {act} | {pub:.2f} | {pm(m, sd, n)} | {max(t for t, _ in tests):.2f} | {n} | {verdict}"
            f" | {epochs} of {group[0].final_epoch} | {wall / 60:.0f} min |"
        )


TABLES = {
    "r6": r6,
    "r1": lambda paths: r1_r4(paths, R1, best_only=False),
    "r2": r2,
    "r3": r3,
    "r4": lambda paths: r1_r4(paths, R4, best_only=True),
    "r4-sigmoid": lambda paths: r1_r4(paths, R4_SIGMOID, best_only=True),
    "r4-stability": r4_stability,
    "activations": activations,
    "optimizers": optimizers,
    "init": init,
    "regularization": regularization,
}


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in TABLES:
        print(f"usage: verdicts.py {'|'.join(TABLES)} DIR...", file=sys.stderr)
        sys.exit(2)
    TABLES[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # not a sweep or run directory: one line each, no traceback
        print("\n".join(f"error: {line}" for line in err.lines), file=sys.stderr)
        sys.exit(2)
