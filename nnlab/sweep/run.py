"""The sweep driver: create or reopen the sweep directory, run the members, aggregate."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnlab.errors import UserError
from nnlab.io import atomic_write_json, atomic_write_text
from nnlab.results import Selection, read_sweep_json, select
from nnlab.sweep import aggregate
from nnlab.sweep.execute import execute_dask, execute_local
from nnlab.sweep.expand import Member, point_keys
from nnlab.sweep.spec import SweepSpec
from nnlab.tables import Table

FORMAT = 1


@dataclass
class SweepResult:
    path: Path
    members: list[Member]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False
    wall: float = 0.0
    selection: Selection | None = None  # the sweep as read at its end
    table: Table | None = None  # per configuration (aggregate.configuration_table)

    @property
    def failures(self) -> list[tuple[Member, dict[str, Any]]]:
        """Members that failed or diverged (not those stopped by Ctrl-C, nor those not run)."""
        return [
            (m, self.records[m.id])
            for m in self.members
            if m.id in self.records and self.records[m.id]["status"] not in ("completed", "pending", "interrupted")
        ]

    def with_status(self, *statuses: str) -> list[Member]:
        return [m for m in self.members if self.records.get(m.id, {}).get("status", "pending") in statuses]

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else (1 if self.failures else 0)


def create_sweep_dir(runs_dir: Path, name: str) -> Path:
    """A new ``runs_dir/sweeps/<stamp>-<name>[-k]``, made like a run folder (never an existing one)."""
    from nnlab.rundir import create_run_dir

    return create_run_dir(Path(runs_dir) / "sweeps", name)


def sweep_json(spec: SweepSpec, members: list[Member], status: str, command: list[str]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": spec.name,
        "keys": point_keys(members),
        "seeds": spec.seeds,
        "status": status,
        "command": command,
        "base": spec.base,
        "base_label": spec.base_label,
        "members": [m.to_json() for m in members],
    }


def start(spec: SweepSpec, members: list[Member], runs_dir: Path) -> Path:
    path = create_sweep_dir(runs_dir, spec.name)
    from nnlab.config.load import _Dumper  # lists on one line, as in config.yaml

    atomic_write_text(
        path / "sweep.yaml", yaml.dump(spec.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    )
    (path / "members").mkdir()
    atomic_write_json(path / "sweep.json", sweep_json(spec, members, "running", list(sys.argv)))
    return path


def reopen(sweep_dir: Path) -> tuple[dict[str, Any], SweepSpec, list[Member]]:
    doc = read_sweep_json(sweep_dir)
    spec = SweepSpec(
        name=doc["name"],
        label=str(sweep_dir),
        base=doc["base"],
        base_label=doc.get("base_label", "base"),
        seeds=doc.get("seeds") or [0],
    )
    members = [Member(m["id"], m["point"], m["seed"], m["overrides"]) for m in doc["members"]]
    spec.grid = {k: [] for k in doc.get("keys") or []}
    return doc, spec, members


def run(
    spec: SweepSpec,
    members: list[Member],
    sweep_dir: Path,
    *,
    executor: str = "local",
    jobs: int = 1,
    scheduler: str | None = None,
    progress=None,
    resume: bool = False,
) -> SweepResult:
    """Run every member not yet completed; results.csv is rewritten as each one finishes."""
    result = SweepResult(sweep_dir, members)
    keys = point_keys(members)
    for m in members:
        result.records[m.id] = aggregate.member_record(sweep_dir, m, None)
    todo = [m for m in members if result.records[m.id]["status"] != "completed"]
    by_id = {m.id: m for m in members}
    t0 = time.perf_counter()
    if progress:
        progress.start(len(members), len(members) - len(todo))

    def done(mid: str, outcome: dict[str, Any]) -> None:
        result.records[mid] = aggregate.member_record(sweep_dir, by_id[mid], outcome)
        aggregate.write_results(sweep_dir, members, result.records, keys)
        if progress:
            progress.advance(mid, result.records[mid])

    def on_stop(running: int) -> None:
        if progress and hasattr(progress, "stopping"):
            progress.stopping(running)

    tasks = [(m.id, spec.base, m.overrides, sweep_dir / m.dir, spec.name) for m in todo]
    aggregate.write_results(sweep_dir, members, result.records, keys)
    try:
        if executor == "dask":
            if not scheduler:
                raise UserError("--executor dask needs --scheduler tcp://HOST:PORT")
            execute_dask(tasks, scheduler, done, on_stop)
        else:
            execute_local(tasks, jobs, done, on_stop)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        if progress:
            progress.stop()
    result.wall = time.perf_counter() - t0
    if any(r["status"] == "interrupted" for r in result.records.values()):
        # a worker's member stopped by Ctrl-C: the user stopped the sweep, even if the
        # signal reached this process while it could not act on it (spawning workers)
        result.interrupted = True
    for m in members:  # a member cut short by Ctrl-C reads its own status from its run directory
        if result.records[m.id]["status"] in ("pending", "running"):
            result.records[m.id] = aggregate.member_record(sweep_dir, m, None)
    doc = read_sweep_json(sweep_dir)
    doc["status"] = "interrupted" if result.interrupted else ("failed" if result.failures else "completed")
    doc.setdefault("runs", []).append(
        {
            "command": list(sys.argv),
            "wall_seconds": round(result.wall, 3),
            "executor": executor,
            "jobs": jobs,
            "resume": resume,
        }
    )
    atomic_write_json(sweep_dir / "sweep.json", doc)
    aggregate.write_results(sweep_dir, members, result.records, keys)
    command = " ".join(shlex.quote(a) for a in ["nnlab", *sys.argv[1:]])
    result.selection = select(sweep_dir)  # read once for summary.md, the table shown and the figures
    result.table = aggregate.configuration_table(result.selection)
    atomic_write_text(
        sweep_dir / "summary.md",
        aggregate.summary_markdown(spec.name, result.table, members, result.records, result.wall, command),
    )
    return result
