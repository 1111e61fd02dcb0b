"""Grid x override sets x seeds -> members, each member's config validated before anything runs.

Order (outermost first): the grid's combinations (``itertools.product`` over
the keys in file order, the last key varying fastest), within each the
override sets in file order, within each the seeds; ids ``m000``, ``m001``,
... in that order. A member's overrides are ``--set``
strings: its point, then the sweep's ``set`` list and the command line's
``--set`` (the last word), then ``training.seed``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from nnlab.config import load_config
from nnlab.config.load import parse_yaml_value
from nnlab.errors import UserError
from nnlab.sweep.spec import SweepSpec


@dataclass
class Member:
    id: str
    point: dict[str, Any]  # the grid/override values of this member (seed apart)
    seed: int
    overrides: list[str]  # --set strings, in order: the point, the sweep's --set, the seed

    @property
    def dir(self) -> str:
        return f"members/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "point": self.point, "seed": self.seed, "dir": self.dir, "overrides": self.overrides}


def set_values(sets: list[str]) -> dict[str, Any]:
    """``key.path=value`` strings as {key.path: value} (the last wins; unparsable ones are left to validation)."""
    out: dict[str, Any] = {}
    for text in sets:
        key, eq, value = text.partition("=")
        if eq:
            try:
                out[key.strip()] = parse_yaml_value(value)
            except Exception:
                pass
    return out


def shadowed_keys(spec: SweepSpec) -> dict[str, Any]:
    """The sweep's keys that a ``set`` entry or ``--set`` fixes in every member, with the value set."""
    fixed = set_values(spec.sets)
    return {k: fixed[k] for k in spec.keys if k in fixed}


def _override(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"


SEED_KEY = "training.seed"


def refuse_seed_keys(spec: SweepSpec) -> None:
    """A UserError where a grid, override set or ``--set`` names training.seed: the sweep's seeds set it
    in every member, so such a value would be silently replaced."""
    hint = "the sweep's seeds set it (seeds: N or [3, 4] in the file, --seeds N or --seeds 3,4)"
    errors = []
    if SEED_KEY in _flatten(spec.grid):
        errors.append(f"{spec.grid_labels.get(SEED_KEY, f'{spec.label}: grid')}: {SEED_KEY}: not a sweep key; {hint}")
    for i, s in enumerate(spec.override_sets):
        if SEED_KEY in _flatten(s):
            errors.append(f"{spec.label}: overrides[{i}]: {SEED_KEY}: not a sweep key; {hint}")
    for text in spec.sets:
        if text.partition("=")[0].strip() == SEED_KEY:
            errors.append(f"{spec.set_labels.get(text, f'--set {text}')}: {SEED_KEY}: not a sweep key; {hint}")
    if errors:
        raise UserError(*errors)


def expand(spec: SweepSpec) -> list[Member]:
    """Every member (grid x override sets x seeds), each config validated; all problems reported at once."""
    refuse_seed_keys(spec)
    keys = list(spec.grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(spec.grid[k] for k in keys))] or [{}]
    sets = spec.override_sets or [{}]
    points = [
        (
            {**c, **s},
            {
                **{k: spec.grid_labels.get(k, f"{spec.label}: grid") for k in c},
                **{k: f"{spec.label}: overrides[{i}]" for k in s},
            },
        )
        for c in combos
        for i, s in enumerate(sets)
    ]
    fixed = set_values(spec.sets)
    members: list[Member] = []
    errors: list[str] = []
    seen_errors: set[str] = set()
    for point, origin in points:
        point_sets = [_override(k, v) for k, v in point.items()]
        # a problem is reported where the value was written: "<file>: grid: ...", "--grid ...: ..."
        labels = {f"--set {o}: ": f"{origin[k]}: " for k, o in zip(point, point_sets)}
        labels.update({f"--set {o}: ": f"{label}: " for o, label in spec.set_labels.items()})
        for seed in spec.seeds:
            # the command line (--set) has the last word over the file's grid and override sets
            overrides = [*point_sets, *spec.sets, f"training.seed={seed}"]
            mid = f"m{len(members):03d}"
            try:
                load_config(spec.base, overrides, base_name=spec.name)
            except UserError as err:
                for line in err.lines:
                    text = line.replace("<dict>", spec.base_label, 1)
                    for prefix, label in labels.items():
                        if text.startswith(prefix):
                            text = label + text[len(prefix) :]
                            break
                    if text not in seen_errors:
                        seen_errors.add(text)
                        errors.append(text)
            # the point records what the member ran with: a --set of the same key replaced the grid's value
            flat = _flatten(point)
            members.append(Member(mid, {k: fixed.get(k, v) for k, v in flat.items()}, seed, overrides))
    if errors:
        raise UserError(*errors)
    _keep_varied(members)
    return members


def check_data(spec: SweepSpec, members: list[Member]) -> None:
    """A UserError (one line per problem) when a dataset the members read is not on this machine.

    For local runs, before the sweep folder is made: otherwise every member
    fails alike, one after the other. (Dask workers have their own disks: not
    checked there.) Only files are looked for; nothing is loaded.
    """
    from nnlab.data import mnist
    from nnlab.data.datasets import default_data_dir
    from nnlab.data.sources import SOURCES

    wanted: dict[tuple[str, str | None], None] = {}
    for _, cfg in _alike(spec, members):
        data = cfg.data
        wanted[(data.dataset, str(data.path) if data.path is not None else None)] = None
    errors = []
    for dataset, path in wanted:
        if dataset in SOURCES:  # mnist, fashion-mnist (a file dataset was read by load_config)
            try:
                mnist.find_idx(path if path is not None else default_data_dir(), SOURCES[dataset])
            except UserError as err:
                errors += [line for line in err.lines if line not in errors]
    if errors:
        raise UserError(*errors)


def check_packages(spec: SweepSpec, members: list[Member]) -> None:
    """A UserError when members ask for an optional package this environment lacks (output.tensorboard)."""
    if any(cfg.output.tensorboard for _, cfg in _alike(spec, members)):
        from nnlab.tensorboard import require

        require(spec.label)


def check_memory(spec: SweepSpec, members: list[Member], jobs: int) -> None:
    """A UserError when a member needs more memory than a run may use here, or the ``jobs``
    largest members together do (local runs: checked before the sweep folder is made)."""
    from nnlab.memory import check_members

    configs = []
    for same, cfg in _alike(spec, members):  # members differing only in their seed: one line for them all
        point = " ".join(f"{k}={json.dumps(v)}" for k, v in same[0].point.items())
        label = f"{spec.label}: {', '.join(m.id for m in same)}" + (f" ({point})" if point else "")
        configs += [(label, cfg)] * len(same)
    check_members(configs, jobs)


def _alike(spec: SweepSpec, members: list[Member]) -> list[tuple[list[Member], Any]]:
    """The members grouped by their overrides but the seed (the last one), with the config of the first of each:
    what the checks before a sweep read (its data, packages and memory do not depend on the seed)."""
    alike: dict[tuple[str, ...], list[Member]] = {}
    for m in members:
        alike.setdefault(tuple(m.overrides[:-1]), []).append(m)
    return [(same, load_config(spec.base, same[0].overrides, base_name=spec.name)) for same in alike.values()]


def _flatten(point: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"name": "adam", "learning_rate": 0.001}}`` -> ``{"optimizer.name": ..., ...}``."""
    out: dict[str, Any] = {}
    for k, v in point.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _keep_varied(members: list[Member]) -> None:
    """Points keep only the keys whose values differ between members: a one-value grid axis (a way to set
    a base value, e.g. training.epochs: [10]) or a key every --set fixes is not a dimension of the sweep."""

    def value(m: Member, k: str) -> str | None:
        return json.dumps(m.point[k], sort_keys=True, default=str) if k in m.point else None

    varied = {k for k in point_keys(members) if len({value(m, k) for m in members}) > 1}
    for m in members:
        m.point = {k: v for k, v in m.point.items() if k in varied}


def point_keys(members: list[Member]) -> list[str]:
    """The sweep's varied keys, in the order they were written (sweep.json "keys", results.csv columns)."""
    return list(dict.fromkeys(k for m in members for k in m.point))
