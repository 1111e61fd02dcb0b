"""Small run and sweep directories written exactly per docs/run-directory.md.

Imported as ``from synthetic_runs import ...`` (pytest puts ``tests/`` on
sys.path). Values are deterministic and distinct per layer and epoch so a
test can tell which CSV cell a plotted or reported number came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

METRICS = "epoch,step,seconds,train_loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,lr"
LONG = "step,epoch,layer,quantity,value"


def delta(layer: int, epoch: int, seed: int = 0) -> float:
    """||δ^l||: smaller in earlier layers (the vanishing gradient), shrinking with training."""
    return round(0.01 * 4.0**layer / (1 + epoch) * (1 + 0.01 * seed), 9)


def val_acc(epoch: int, best: int, seed: int = 0) -> float:
    return round(0.5 + 0.1 * min(epoch, best) - 0.01 * max(0, epoch - best) + 0.001 * seed, 6)


def write_run(
    path: Path,
    *,
    sizes: Sequence[int] = (784, 30, 30, 30, 10),
    epochs: int = 4,
    best: int = 3,
    activation: str = "sigmoid",
    gradients: bool = True,
    batch_stats: bool = True,
    activations: bool = True,
    summary: bool = True,
    seed: int = 0,
    name: str = "synthetic",
    steps_per_epoch: int = 50,
    fmt: Any = 1,
    config_extra: dict[str, Any] | None = None,
) -> Path:
    """A finished run directory; instruments switched off leave a header-only or no CSV."""
    path.mkdir(parents=True)
    L = len(sizes) - 1
    config = {
        "name": name,
        "model": {"sizes": list(sizes), "activation": activation, "output": "sigmoid", "cost": "cross_entropy"},
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "training": {"epochs": epochs, "batch_size": 10, "seed": seed},
        "instruments": {"gradients": gradients, "batch_stats": batch_stats, "activations": activations},
    }
    for key, value in (config_extra or {}).items():
        node = config
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (path / "overrides.json").write_text("[]")
    meta = {
        "format": fmt,
        "nnlab": "0.1.0",
        "seed": seed,
        "name": name,
        "command": ["nnlab", "train"],
        "started": "2026-11-23T00:00:00+00:00",
        "ended": "2026-11-23T00:01:00+00:00",
        "status": "completed",
        "error": None,
        "epochs_completed": epochs,
    }
    (path / "meta.json").write_text(json.dumps(meta))

    rows = [METRICS]
    for e in range(epochs + 1):
        step = e * steps_per_epoch
        tr = "" if e == 2 else repr(round(val_acc(e, best, seed) + 0.05, 6))  # one empty cell: NaN
        rows.append(
            f"{e},{step},{0.0 if e == 0 else 0.25 + 0.01 * e},{2.0 / (1 + e)},{tr},"
            f"{2.1 / (1 + e)},{val_acc(e, best, seed)},{2.2 / (1 + e)},{round(val_acc(e, best, seed) - 0.02, 6)},0.5"
        )
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")

    if gradients or batch_stats:
        g = [LONG]
        for e in range(epochs + 1):
            step = e * steps_per_epoch
            for l in range(1, L + 1):
                if gradients:
                    g.append(f"{step},{e},{l},delta_norm,{delta(l, e, seed)!r}")
                    g.append(f"{step},{e},{l},weight_grad_norm,{10 * delta(l, e, seed)!r}")
            if e and batch_stats:
                for l in range(1, L + 1):
                    g.append(f"{step},{e},{l},batch_grad_norm,{20 * delta(l, e, seed)!r}")
                    g.append(f"{step},{e},{l},update_ratio,{round(1e-3 * l / e, 9)!r}")
        (path / "gradients.csv").write_text("\n".join(g) + "\n")

    a = [LONG]
    if activations:
        quantity = "dead_fraction" if activation == "relu" else "saturated_fraction"
        for e in range(epochs + 1):
            for l in range(1, L + 1):
                a.append(f"{e * steps_per_epoch},{e},{l},mean,{0.5 + 0.01 * l}")
                a.append(f"{e * steps_per_epoch},{e},{l},{quantity},{round(0.02 * l * e, 6)!r}")
    (path / "activations.csv").write_text("\n".join(a) + "\n")  # header only when off

    if summary:

        def part(e: int) -> dict[str, Any]:
            return {
                "epoch": e,
                "train_accuracy": None if e == 2 else round(val_acc(e, best, seed) + 0.05, 6),
                "validation_accuracy": val_acc(e, best, seed),
                "test_accuracy": round(val_acc(e, best, seed) - 0.02, 6),
                "validation_loss": 2.1 / (1 + e),
            }

        s = {
            "status": "completed",
            "epochs_completed": epochs,
            "wall_seconds": 12.5 + seed,
            "final": part(epochs),
            "best": part(best),
            "delta_norms": {
                "initial": [delta(l, 0, seed) for l in range(1, L + 1)] if gradients else None,
                "final": [delta(l, epochs, seed) for l in range(1, L + 1)] if gradients else None,
            },
        }
        (path / "summary.json").write_text(json.dumps(s))
    return path


def write_sweep(
    path: Path,
    depths: Sequence[int] = (1, 2, 3),
    seeds: Sequence[int] = (0, 1),
    *,
    missing: Sequence[str] = (),
    unfinished: Sequence[str] = (),
) -> Path:
    """A sweep over model.sizes (``depths`` hidden layers of 30) and seeds, as the sweep issue writes it."""
    path.mkdir(parents=True)
    members = []
    i = 0
    for d in depths:
        sizes = [784] + [30] * d + [10]
        for seed in seeds:
            mid = f"m{i:03d}"
            members.append({"id": mid, "point": {"model.sizes": sizes}, "seed": seed, "dir": f"members/{mid}"})
            if mid not in missing:
                write_run(
                    path / "members" / mid,
                    sizes=sizes,
                    seed=seed,
                    best=2 + d % 2,
                    name=f"depth-{mid}",
                    summary=mid not in unfinished,
                )
            i += 1
    spec = {"format": 1, "name": "depth", "keys": ["model.sizes"], "members": members}
    (path / "sweep.json").write_text(json.dumps(spec))
    (path / "results.csv").write_text("id,model.sizes,seed,status\n")
    (path / "summary.md").write_text("# depth\n")
    return path
