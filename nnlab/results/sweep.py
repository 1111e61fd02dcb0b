"""A sweep directory read (``Sweep``), and what ``nnlab plot``/``nnlab report`` read from their PATHS
(``Selection``), grouped into configurations (``group``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.errors import UserError
from nnlab.results.keys import point_label, points
from nnlab.results.run import SWEEP_FORMAT, Run, _read_json, is_run_dir, is_sweep_dir, load_run, not_a_run

# --- sweeps -------------------------------------------------------------------


@dataclass
class Member:
    """One run and its configuration: a sweep member (its id and grid point) or a run given by itself.

    ``point`` is dotted key -> value (what defines the configuration, seed
    aside); ``None`` for a run compared with nothing. ``id`` is ``None`` for a
    run that is not a sweep member.
    """

    id: str | None
    point: dict[str, Any] | None
    seed: int | None
    run: Run

    @property
    def label(self) -> str:
        return point_label(self.point or {})


class _MemberFrames:
    """pandas views of ``members`` (nnlab.frames), shared by Sweep and Selection."""

    @property
    def members_df(self):
        """One row per finished member: id, seed, the configuration keys, status, final and best results."""
        from nnlab import frames

        return frames.sweep_members(self)

    @property
    def metrics_df(self):
        """Every member's metrics rows, with member, seed and the configuration keys in front."""
        from nnlab import frames

        return frames.sweep_long(self, "metrics")

    @property
    def gradients_df(self):
        from nnlab import frames

        return frames.sweep_long(self, "gradients")

    @property
    def activations_df(self):
        from nnlab import frames

        return frames.sweep_long(self, "activations")


@dataclass
class Sweep(_MemberFrames):
    path: Path
    spec: dict[str, Any]  # sweep.json
    members: list[Member]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member id, why)

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or self.path.name)

    @property
    def keys(self) -> list[str]:
        return list(self.spec.get("keys") or [])

    @property
    def runs(self) -> list[Run]:
        return [m.run for m in self.members]


def read_sweep_json(path: str | Path) -> dict[str, Any]:
    """A sweep directory's sweep.json, checked: a JSON object of the format this nnlab reads (else UserError)."""
    path = Path(path)
    if not is_sweep_dir(path):
        raise UserError(f"{path}: not a sweep directory (no sweep.json)")
    spec = _read_json(path / "sweep.json")
    if not isinstance(spec, dict):
        raise UserError(f"{path}/sweep.json: expected a JSON object")
    fmt = spec.get("format")
    if fmt != SWEEP_FORMAT:
        raise UserError(
            f"{path}: sweep directory format {fmt!r} is not supported; this nnlab reads format {SWEEP_FORMAT}"
        )
    return spec


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep directory; members whose folder is missing or unfinished (no summary.json) are skipped."""
    path = Path(path)
    spec = read_sweep_json(path)
    members: list[Member] = []
    skipped: list[tuple[str, str]] = []
    for i, m in enumerate(spec.get("members") or []):
        mid = str(m.get("id", f"#{i}"))
        d = path / str(m.get("dir") or Path("members") / mid)
        if not is_run_dir(d):
            skipped.append((mid, "no run directory"))
            continue
        if not (d / "summary.json").is_file():
            skipped.append((mid, "unfinished (no summary.json)"))
            continue
        try:
            run = load_run(d)
        except UserError as e:
            skipped.append((mid, str(e)))
            continue
        seed = m.get("seed", run.seed)
        members.append(Member(mid, dict(m.get("point") or {}), seed, run))
    return Sweep(path, spec, members, skipped)


@dataclass
class Group:
    """The runs of one configuration (a grid point), over seeds."""

    point: dict[str, Any]
    runs: list[Run]
    members: list[Member] = field(default_factory=list)

    @property
    def label(self) -> str:
        return point_label(self.point)


@dataclass
class Selection(_MemberFrames):
    """The runs ``nnlab plot``, ``nnlab report`` and the notebook API were given, each with its configuration.

    One sweep: its members, their grid points and the sweep's keys. Anything
    else (runs, folders of runs, several sweeps): every run found, in the order
    given, and as configuration what tells the runs apart (``describing_keys``;
    the seed and naming keys never do). A single run has no configuration.
    """

    members: list[Member]
    keys: list[str]
    sweeps: list[Sweep] = field(default_factory=list)
    title: str = "nnlab"

    @property
    def runs(self) -> list[Run]:
        return [m.run for m in self.members]

    @property
    def sweep(self) -> Sweep | None:
        """The sweep, when the selection is exactly one sweep."""
        return self.sweeps[0] if len(self.sweeps) == 1 and len(self.members) == len(self.sweeps[0].members) else None

    @property
    def notes(self) -> list[str]:
        return [f"sweep member {mid}: skipped, {why}" for s in self.sweeps for mid, why in s.skipped]

    def groups(self) -> list[Group]:
        return group(self)[1]


def select(paths: Sequence[str | Path] | str | Path) -> Selection:
    """Read the runs at ``paths`` (run directories, sweep directories, folders of runs) into a Selection."""
    from nnlab.text import plural

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("give at least one run directory or sweep directory")
    if len(paths) == 1 and is_sweep_dir(paths[0]) and not is_run_dir(paths[0]):
        sweep = load_sweep(paths[0])
        return Selection(list(sweep.members), sweep.keys, [sweep], f"sweep {sweep.name}")
    members: list[Member] = []
    sweeps: list[Sweep] = []
    for p in paths:
        if is_sweep_dir(p) and not is_run_dir(p):
            sweeps.append(load_sweep(p))
            members += [Member(m.id, None, m.seed, m.run) for m in sweeps[-1].members]
        else:
            members += [Member(None, None, run.seed, run) for run in map(load_run, find_runs(p))]
    keys, values = points([m.run for m in members])
    if len(members) > 1:
        for m, point in zip(members, values):
            m.point = point
    title = members[0].run.name if len(members) == 1 else plural(len(members), "run")
    return Selection(members, keys, sweeps, title)


def group(source: Selection | Sweep | Sequence[Run]) -> tuple[list[str], list[Group]]:
    """(the keys that define a configuration, the configurations in first-seen order).

    The one grouping of runs by configuration: runs whose points are equal (they
    differ only in seed or name) share a group. A Sweep groups by its grid
    points; runs by what tells them apart (``describing_keys``).
    """
    if isinstance(source, Sweep):
        source = Selection(list(source.members), source.keys, [source])
    elif not isinstance(source, Selection):
        runs = list(source)
        keys, values = points(runs)
        source = Selection([Member(None, point, r.seed, r) for r, point in zip(runs, values)], keys)
    groups: dict[str, Group] = {}
    for m in source.members:
        if m.point is None:
            continue
        key = json.dumps(m.point, sort_keys=True, default=str)
        g = groups.setdefault(key, Group(m.point, []))
        g.runs.append(m.run)
        g.members.append(m)
    return source.keys, list(groups.values())


def find_runs(path: str | Path) -> list[Path]:
    """Run directories at ``path``: itself, a sweep's finished members, or the runs directly inside a folder."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if is_run_dir(path):
        return [path]
    if is_sweep_dir(path):
        return [m.run.path for m in load_sweep(path).members]
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if is_run_dir(p))
        if runs:
            return runs
    raise not_a_run(path)
