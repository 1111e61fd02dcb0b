"""The sweep file: a base config, a grid of dotted keys, override sets, seeds.

Parsing and checking only; ``nnlab.sweep.expand`` turns a spec into members.

```yaml
name: depth
base: ../nielsen/r1.yaml          # a path (relative to this file) or an inline mapping
grid:                             # every combination of these values
  model.sizes: [[784, 30, 10], [784, 30, 30, 10]]
overrides:                        # and/or explicit sets (combined with the grid)
  - {optimizer.name: adam, optimizer.learning_rate: 0.001}
seeds: 5                          # 0..4, or a list [0, 7, 9] (sets training.seed)
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab import shipped
from nnlab.config.load import parse_yaml_value, read_config_file
from nnlab.config.schema import Config
from nnlab.config.values import closest
from nnlab.errors import UserError

KEYS = ("name", "base", "grid", "overrides", "seeds", "set", "description")
SWEEP_ONLY_KEYS = ("base", "grid", "overrides", "seeds", "set")  # a run config has none of these
RUN_KEYS = tuple(Config.model_fields)


@dataclass
class SweepSpec:
    name: str
    label: str  # the file, for messages
    base: dict[str, Any]  # the base config as a mapping
    base_label: str
    grid: dict[str, list[Any]] = field(default_factory=dict)
    override_sets: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    sets: list[str] = field(default_factory=list)  # --set applied to every member
    # where a value came from, for messages: grid key -> "<file>: grid" or "--grid <text>";
    # a set string from the file's `set:` list -> "<file>: set" (the command line's are "--set <text>")
    grid_labels: dict[str, str] = field(default_factory=dict)
    set_labels: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def keys(self) -> list[str]:
        keys = list(self.grid)
        for s in self.override_sets:
            keys += [k for k in s if k not in keys]
        return keys

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["base"] = self.base
        if self.grid:
            d["grid"] = self.grid
        if self.override_sets:
            d["overrides"] = self.override_sets
        d["seeds"] = self.seeds
        if self.sets:
            d["set"] = self.sets
        return d


def is_sweep(data: Any) -> bool:
    """A parsed YAML document is a sweep file when it has a key only sweep files have (base, grid, ...)."""
    return isinstance(data, dict) and any(k in SWEEP_ONLY_KEYS for k in data)


def read_spec(path: Path, label: str, data: Any = None) -> SweepSpec:
    """The sweep file at ``path`` (``data``: its document, if already read); ``label`` names it in messages."""
    if data is None:
        data = read_config_file(path, label)
    return parse_spec(data, label, folder=path.parent, default_name=path.stem)


def _fail(msg: str):
    raise UserError(msg)


def _seeds(value: Any, label: str) -> list[int]:
    if isinstance(value, bool) or value is None:
        _fail(f"{label}: seeds: got {value!r}; must be a count >= 1 or a list of integers >= 0")
    if isinstance(value, int):
        if value < 1:
            _fail(f"{label}: seeds: got {value}; must be a count >= 1 or a list of integers >= 0")
        return list(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if len(set(value)) != len(value):
            _fail(f"{label}: seeds: {value} repeats a seed; each seed once")
        return list(value)
    return _fail(f"{label}: seeds: got {value!r}; must be a count >= 1 or a list of integers >= 0")


def parse_spec(data: Any, label: str, *, folder: Path, default_name: str) -> SweepSpec:
    if not isinstance(data, dict):
        _fail(f"{label}: a sweep file must be a mapping with keys: {', '.join(KEYS)}")
    if not is_sweep(data) and set(data) <= set(RUN_KEYS) and set(data) - {"name"}:
        _fail(
            f"{label}: is a run config, not a sweep file (no {', '.join(SWEEP_ONLY_KEYS)}); "
            f"train it with nnlab train {label}, or name it as a sweep's base:"
        )
    for k in data:
        if k not in KEYS:
            near = closest(str(k), KEYS)
            _fail(
                f"{label}: {k}: unknown key; valid: {', '.join(KEYS)}" + (f" (did you mean '{near}'?)" if near else "")
            )
    base = data.get("base")
    if isinstance(base, str):
        base_path = (folder / base) if not Path(base).is_absolute() else Path(base)
        if not base_path.is_file() and Path(base).is_file():
            base_path = Path(base)
        if not base_path.is_file() and (found := shipped.find(base.removesuffix(".yaml"), "config")) is not None:
            base_path = found.path
        if not base_path.is_file():
            _fail(
                f"{label}: base: config file {base!r} not found "
                f"(a path relative to the sweep file, or a shipped config's name such as nielsen/r1)"
            )
        base_label = shipped.label(Path(os.path.normpath(base_path)))
        base_dict = read_config_file(base_path, base_label)
        if not isinstance(base_dict, dict):
            _fail(f"{base_path}: a config must be a mapping")
    elif isinstance(base, dict) or base is None:
        base_label, base_dict = f"{label}: base", dict(base or {})
    else:
        _fail(f"{label}: base: got {base!r}; must be a config file path or an inline config mapping")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        _fail(f"{label}: grid: must be a mapping of dotted keys to lists of values")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            _fail(f"{label}: grid.{k}: got {v!r}; must be a non-empty list of values")
    sets = data.get("overrides") or []
    if not isinstance(sets, list) or not all(isinstance(s, dict) and s for s in sets):
        _fail(f"{label}: overrides: must be a list of non-empty mappings of dotted keys to values")
    fixed = data.get("set") or []
    if not isinstance(fixed, list) or not all(isinstance(x, str) and "=" in x for x in fixed):
        _fail(f"{label}: set: must be a list of key.path=value strings applied to every member")
    name = data.get("name") or default_name
    if not isinstance(name, str):
        _fail(f"{label}: name: got {name!r}; must be a string")
    return SweepSpec(
        name=name,
        label=label,
        base=base_dict,
        base_label=base_label,
        grid={str(k): v for k, v in grid.items()},
        override_sets=[{str(k): v for k, v in s.items()} for s in sets],
        seeds=_seeds(data.get("seeds", 1), label),
        description=str(data.get("description") or ""),
        sets=list(fixed),
        grid_labels={str(k): f"{label}: grid" for k in grid},
        set_labels={x: f"{label}: set" for x in fixed},
    )


def load_spec(
    name_or_path: str | None,
    *,
    sets: Sequence[str] = (),
    grid_args: Sequence[str] = (),
    seeds: str | int | None = None,
) -> SweepSpec:
    """A sweep from a file (a path, or the name of a shipped sweep) and/or ``--grid key=v1,v2`` arguments."""
    if name_or_path:
        spec = read_spec(*shipped.resolve(name_or_path, "sweep"))
    else:
        if not grid_args:
            _fail("give a sweep name or file (e.g. nnlab sweep depth), or --grid key=v1,v2 with --set base settings")
        spec = SweepSpec(name="adhoc", label="--grid", base={}, base_label="--set")
    for text in grid_args:
        key, values = parse_grid_arg(text)
        spec.grid[key] = values
        spec.grid_labels[key] = f"--grid {text}"
    if seeds is not None:
        spec.seeds = parse_seeds_arg(str(seeds))
    spec.sets = spec.sets + list(sets)
    return spec


def parse_seeds_arg(text: str) -> list[int]:
    """``--seeds N`` (seeds 0..N-1) or ``--seeds 3,4`` / ``--seeds [3, 4]`` (those seeds)."""
    t = text.strip()
    listed = "," in t or t.startswith("[")
    parts = [p.strip() for p in t.strip("[]").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        _fail(f"--seeds {text}: must be a count N >= 1 (seeds 0..N-1) or a list of seeds >= 0 like 3,4")
    if not listed:
        if int(parts[0]) < 1:
            _fail(f"--seeds {text}: must be >= 1 (a list of one seed: --seeds {parts[0]},)")
        return list(range(int(parts[0])))
    values = [int(p) for p in parts]
    if len(set(values)) != len(values):
        _fail(f"--seeds {text}: repeats a seed; each seed once")
    return values


def parse_grid_arg(text: str) -> tuple[str, list[Any]]:
    """``key=v1,v2`` (``;`` separates instead when a value holds commas, e.g. lists)."""
    if "=" not in text:
        _fail(f"--grid {text}: expected key.path=value1,value2")
    key, _, rest = text.partition("=")
    sep = ";" if ";" in rest or "[" in rest or "{" in rest else ","
    parts = [p.strip() for p in rest.split(sep) if p.strip()]
    if not key.strip() or not parts:
        _fail(f"--grid {text}: expected key.path=value1,value2")
    from nnlab.config.overrides import BadOverride

    try:
        return key.strip(), [parse_yaml_value(p) for p in parts]
    except BadOverride as err:
        return _fail(f"--grid {text}: {err}")
