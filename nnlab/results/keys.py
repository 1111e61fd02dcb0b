"""Configuration keys: what tells runs apart, and how a setting reads in a label."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from nnlab.results.run import Run, layers_label

# --- configuration keys (what differs between runs) -----------------------------


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"sizes": [...]}} -> {"model.sizes": [...]} (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


#: keys that never define a configuration (they name or place a run, or are the seed)
IDENTITY_KEYS = ("name", "training.seed", "output.runs_dir", "output.checkpoint_every", "output.strict", "data.path")


def differing_keys(runs: Iterable[Run], ignore: Iterable[str] = IDENTITY_KEYS) -> list[str]:
    """Dotted config keys whose values differ between ``runs`` (seed and naming keys ignored)."""
    return _differing([flatten(r.config) for r in runs], ignore)


def describing_keys(runs: Iterable[Run], ignore: Iterable[str] = IDENTITY_KEYS) -> list[str]:
    """The config keys that tell ``runs`` apart, as a reader wants them (labels, report columns).

    ``differing_keys`` less the settings that do not apply: a key missing from
    some runs' configs and equal wherever it is present (adam's ``rho1`` beside
    an sgd run, a leaky slope beside a sigmoid) is left out when the other keys
    already tell those runs apart; it stays when they do not (``clip_norm``
    absent in one run and 5 in another, nothing else differing).
    """
    return _describing([flatten(r.config) for r in runs], ignore)


def points(runs: Iterable[Run]) -> tuple[list[str], list[dict[str, Any]]]:
    """(``describing_keys`` of ``runs``, each run's values of them): what tells each run apart."""
    flats = [flatten(r.config) for r in runs]
    keys = _describing(flats, IDENTITY_KEYS)
    return keys, [{k: f.get(k) for k in keys} for f in flats]


def _differing(flats: list[dict[str, Any]], ignore: Iterable[str]) -> list[str]:
    if len(flats) < 2:
        return []
    ignore = set(ignore)
    keys = sorted({k for f in flats for k in f} - ignore)
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]


def _describing(flats: list[dict[str, Any]], ignore: Iterable[str]) -> list[str]:
    keys = _differing(flats, ignore)

    def values(k: str, present_only: bool) -> set[str]:
        return {json.dumps(f.get(k), sort_keys=True) for f in flats if not present_only or f.get(k) is not None}

    chosen = [k for k in keys if len(values(k, present_only=True)) > 1]
    for k in keys:
        if k in chosen:
            continue
        seen: dict[str, set[str]] = {}  # runs alike on the chosen keys: does k still tell them apart?
        for f in flats:
            alike = json.dumps([f.get(c) for c in chosen], sort_keys=True, default=str)
            seen.setdefault(alike, set()).add(json.dumps(f.get(k), sort_keys=True))
        if any(len(v) > 1 for v in seen.values()):
            chosen.append(k)
    return [k for k in keys if k in chosen]


def config_value(run: Run, key: str) -> Any:
    return flatten(run.config).get(key)


def format_value(key: str, value: Any) -> str:
    """A config value as a short label: model.sizes [784, 30, 10] -> "784-30-10"."""
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return "-".join(str(v) for v in value)
    if key == "model.layers" and isinstance(value, list):
        return layers_label(value)
    if isinstance(value, dict) and "name" in value:  # {name: leaky_relu, slope: 0.1} -> leaky_relu(slope=0.1)
        rest = ", ".join(f"{k}={format_value(k, v)}" for k, v in value.items() if k != "name")
        return f"{value['name']}({rest})" if rest else str(value["name"])
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)


def mean_std(values: Iterable[float | None]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (n - 1; 0 for one value) and count of the finite values."""
    v = np.array([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def point_label(point: dict[str, Any]) -> str:
    """One configuration's label: "784-30-10" for one key, "k1=v1, k2=v2" for several."""
    if not point:
        return "all runs"
    if len(point) == 1:
        ((k, v),) = point.items()
        return format_value(k, v)
    return ", ".join(f"{_short_key(k)}={format_value(k, v)}" for k, v in point.items())


def _short_key(key: str) -> str:
    """The last part of a dotted key, or the section for a name: optimizer.name -> optimizer."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]
