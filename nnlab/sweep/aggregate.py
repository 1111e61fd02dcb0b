"""What a sweep leaves: results.csv (one row per member), summary.md and the table per grid point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnlab.io import atomic_write_text
from nnlab.results import Selection, load_run, read_summary, run_status
from nnlab.sweep.expand import Member
from nnlab.tables import Column, Table, to_csv, to_markdown
from nnlab.text import plural


def member_record(sweep_dir: Path, m: Member, outcome: dict[str, Any] | None) -> dict[str, Any]:
    """The member's status and numbers from its run directory (the outcome fills in what it lacks)."""
    run_dir = sweep_dir / m.dir
    status, error = run_status(run_dir)  # "pending" while the folder or its meta.json is not there yet
    rec: dict[str, Any] = {"status": status, "error": error, "summary": read_summary(run_dir)}
    if outcome and (rec["status"] in ("pending", "running") or outcome["status"] != "completed"):
        rec.update(status=outcome["status"], error=outcome.get("error") or rec["error"])
    return rec


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, list):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v)
    return v


def results_csv(members: list[Member], records: dict[str, dict[str, Any]], keys: list[str]) -> str:
    n_layers = max(
        (len(((r.get("summary") or {}).get("delta_norms") or {}).get("initial") or []) for r in records.values()),
        default=0,
    )
    fields = [
        "id",
        *keys,
        "seed",
        "status",
        "epochs_completed",
        "final_validation_accuracy",
        "best_validation_accuracy",
        "best_epoch",
        "final_test_accuracy",
        "best_test_accuracy",
        "wall_seconds",
    ]
    fields += [f"delta_initial_{l}" for l in range(1, n_layers + 1)] + ["error"]
    values = []
    for m in members:
        rec = records.get(m.id) or {"status": "pending"}
        s = rec.get("summary") or {}
        final, best = s.get("final") or {}, s.get("best") or {}
        row = {
            "id": m.id,
            "seed": m.seed,
            "status": rec["status"],
            "error": rec.get("error"),
            "epochs_completed": s.get("epochs_completed"),
            "final_validation_accuracy": final.get("validation_accuracy"),
            "best_validation_accuracy": best.get("validation_accuracy"),
            "best_epoch": best.get("epoch"),
            "final_test_accuracy": final.get("test_accuracy"),
            "best_test_accuracy": best.get("test_accuracy"),
            "wall_seconds": s.get("wall_seconds"),
        }
        row.update({k: m.point.get(k) for k in keys})
        for l, v in enumerate(((s.get("delta_norms") or {}).get("initial") or []), start=1):
            row[f"delta_initial_{l}"] = v
        values.append([row.get(f) for f in fields])
    table = Table("results", [Column(f) for f in fields], [[str(_cell(v)) for v in row] for row in values], values)
    return to_csv(table, cell=_cell)


def write_results(sweep_dir: Path, members: list[Member], records: dict[str, dict[str, Any]], keys: list[str]) -> None:
    atomic_write_text(sweep_dir / "results.csv", results_csv(members, records, keys))


def members_with_findings(sweep_dir: Path, members: list[Member], records: dict[str, dict[str, Any]]) -> list:
    """(member, its finding rules, whether its config asks output.strict) for each completed member with findings."""
    out = []
    for m in members:
        rec = records.get(m.id) or {}
        found = [f.get("rule") for f in ((rec.get("summary") or {}).get("diagnosis") or [])]
        if rec.get("status") == "completed" and found:
            try:
                strict = bool((load_run(sweep_dir / m.dir, tables=False).config.get("output") or {}).get("strict"))
            except Exception:  # noqa: BLE001 - an unreadable member is reported elsewhere
                strict = False
            out.append((m, found, strict))
    return out


def configuration_table(sweep: Path | Selection) -> Table | None:
    """Per configuration (grid point): mean ± std over seeds of its completed members (None: no member yet).

    ``sweep``: the sweep's folder, or the sweep already read (``nnlab.results.select``).
    A diverged or failed member keeps a summary.json (its last good epoch, often
    the untrained network) that must not pass for a result: only completed
    members are aggregated, and "runs" reads "k of n" where some of the n
    members of a configuration did not complete ("0 of n": no numbers).
    """
    import dataclasses

    from nnlab.reporting import build_report
    from nnlab.reporting import configuration_table as report_table
    from nnlab.results import point_label, select

    report = build_report(sweep if isinstance(sweep, Selection) else select(sweep))
    points = [m.get("point") or {} for m in report.selection.sweeps[0].spec.get("members") or []]
    done = dataclasses.replace(report, rows=[r for r in report.rows if r.get("status") == "completed"])
    if not done.rows and not points:
        return None
    table = report_table(done)  # with no completed member: the columns alone
    total: dict[str, int] = {}
    for pt in points:
        label = point_label(pt)
        total[label] = total.get(label, 0) + 1
    shown = {row[0]: row for row in table.rows}
    rows = []
    for label, n in total.items():
        row = shown.get(label) or [label, "0"] + [""] * (len(table.columns) - 2)
        if int(row[1]) != n:
            row = [row[0], f"{row[1]} of {n}", *row[2:]]
        rows.append(row)
    return Table(table.title, table.columns, rows)


def summary_markdown(
    name: str, table: Table | None, members: list[Member], records: dict[str, dict[str, Any]], wall: float, command: str
) -> str:
    """summary.md: what ran, the per-configuration ``table`` (``configuration_table``), the members not completed."""
    done = sum(1 for r in records.values() if r["status"] == "completed")
    lines = [
        f"# sweep {name}",
        "",
        f"{done} of {plural(len(members), 'member')} completed; wall time {wall:.1f} s.",
        "",
        f"Command: `{command}`",
        "",
    ]
    if table is not None:
        lines += [
            "Per configuration, mean ± std over seeds (‖δ‖ = Nielsen's ‖δ^l‖ at initialization, probe set):",
            "",
            to_markdown(table),
        ]
    failures = [
        (m, records[m.id])
        for m in members
        if m.id in records and records[m.id]["status"] not in ("completed", "pending")
    ]
    if failures:
        lines += ["", "## Members not completed", ""]
        lines += [f"- {m.id} (seed {m.seed}, {m.point}): {r['status']}: {r.get('error')}" for m, r in failures]
    return "\n".join(lines) + "\n"


def rich_tables(sweep: Path | Table | None, title: str, width: int) -> list:
    """The per-configuration table as rich tables that fit ``width`` columns.

    One table with "mean ± std" on one line if it fits, else with the std under
    the mean; else the accuracies and the ‖δ‖ columns as two tables, each on
    one line if it fits, else two. Cells are not cut short where it can be helped.
    """
    from nnlab.tables import fit_rich

    table = configuration_table(sweep) if isinstance(sweep, Path) else sweep
    if table is None:
        return []
    n_acc = next((i for i, h in enumerate(table.head) if h.startswith("‖δ‖")), len(table.head))
    whole, ok = fit_rich(table, width, title)
    if ok or n_acc == len(table.head):
        return [whole]
    return [
        fit_rich(table.pick(range(n_acc)), width, title)[0],
        fit_rich(
            table.pick([0, *range(n_acc, len(table.head))]), width, "‖δ^l‖ at initialization, mean ± std over seeds"
        )[0],
    ]
