"""``nnlab report``: the numbers of one or many runs as tables.

One row per run (or per sweep member): final and best accuracies, the best
epoch, ||δ^l|| per layer at initialization and at the end, wall time.
Rendered as rich tables on the terminal, or as Markdown, CSV or JSON for
documents and scripts. Numbers come from the run directory as recorded
(summary.json, else metrics.csv; gradients.csv, else summary.json).

CSV and JSON keep accuracies as fractions in [0, 1] (exactly as recorded);
the table and Markdown show percentages.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.errors import UserError
from nnlab.results import Run, Selection, format_value, mean_std, select
from nnlab.tables import Column, Table, csv_cell, json_safe, to_rich
from nnlab.tables import to_csv as table_csv
from nnlab.tables import to_markdown as md_table
from nnlab.text import plural, train_label

FORMATS = ("table", "md", "csv", "json", "html")  # html: nnlab.report_html (tables, config, figures in one file)
#: output file extension -> format (``nnlab report -o FILE``)
EXTENSIONS = {
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".json": "json",
    ".txt": "table",
    ".html": "html",
    ".htm": "html",
}
ACCURACY_FIELDS = (
    ("final_epoch", "final", "epoch"),
    ("final_train_accuracy", "final", "train_accuracy"),
    ("final_validation_accuracy", "final", "validation_accuracy"),
    ("final_test_accuracy", "final", "test_accuracy"),
    ("best_epoch", "best", "epoch"),
    ("best_validation_accuracy", "best", "validation_accuracy"),
    ("best_test_accuracy", "best", "test_accuracy"),
)


@dataclass
class Report:
    rows: list[dict[str, Any]]  # one per run of the selection, in its order
    point_keys: list[str] = field(default_factory=list)  # the keys that define a configuration
    title: str = "nnlab report"
    selection: Selection | None = None  # what the rows were read from (None: rows made by hand)

    @property
    def max_hidden(self) -> int:
        return max((r["layers"] - 1 for r in self.rows), default=0)


def _delta_lists(run: Run) -> tuple[list[float] | None, list[float] | None]:
    out = []
    for at in ("initial", "final"):
        d = run.delta_norms(at)
        if d and sorted(d) == list(range(1, max(d) + 1)):
            out.append([d[l] for l in sorted(d)])
        else:
            out.append(((run.summary or {}).get("delta_norms") or {}).get(at))
    return out[0], out[1]


def run_row(run: Run) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run": run.name,
        "path": str(run.path),
        "status": run.status,
        "seed": run.seed,
        "sizes": run.sizes,
        "architecture": run.architecture,
        "layers": run.n_layers,
        "layer_labels": [run.layer_label(l, short=True) for l in range(1, run.n_layers + 1)],
        "epochs_completed": (run.summary or {}).get("epochs_completed", run.meta.get("epochs_completed")),
        "train_metrics": run.train_metrics,  # what final_train_accuracy was measured on
    }
    for key, part, col in ACCURACY_FIELDS:
        row[key] = run.epoch_of(part) if col == "epoch" else run.result(part, col)
    row["wall_seconds"] = run.wall_seconds
    initial, final = _delta_lists(run)
    row["delta_norms"] = {"initial": initial, "final": final}
    row["diagnosis"] = [f.to_dict() for f in run_findings(run)]
    return row


def run_findings(run: Run) -> list:
    """The diagnosis the run recorded (summary.json), else the rules applied now to what its directory holds."""
    from nnlab.diagnosis import diagnose, findings_from

    recorded = findings_from(run.summary)
    return recorded if recorded is not None else diagnose(run)


def build_report(paths: Sequence[str | Path] | Selection) -> Report:
    """Rows for every run at ``paths`` (run dirs, sweep dirs, folders of runs; ``nnlab.results.select``), in order."""
    selection = paths if isinstance(paths, Selection) else select(paths)
    rows = []
    for m in selection.members:
        row = run_row(m.run)
        if m.id is not None:
            row.update({"member": m.id, "seed": m.seed})
        if m.point is not None:
            row.update({"point": m.point, "config": m.label})
        rows.append(row)
    _set_labels(rows)
    return Report(rows, list(selection.keys), selection.title, selection)


def configurations(report: Report) -> list[dict[str, Any]]:
    """Rows grouped by configuration (``nnlab.results.group``: a sweep's grid point, or what differs
    between runs but the seed): mean ± std over seeds ({"mean", "std", "n"}; std is None where only
    one run has the number). Empty unless the rows are sweep members or some configuration has several runs."""
    if report.selection is None:
        return []
    row_of = {r["path"]: r for r in report.rows}  # the rows kept (a sweep summary keeps the completed ones)
    groups = [[row_of[p] for m in g.members if (p := str(m.run.path)) in row_of] for g in report.selection.groups()]
    groups = [g for g in groups if g]
    if not any("member" in r for r in report.rows) and all(len(g) < 2 for g in groups):
        return []
    out = []
    for rows in groups:
        agg: dict[str, Any] = {
            "config": rows[0]["config"],
            "point": rows[0]["point"],
            "runs": len(rows),
            "seeds": [r["seed"] for r in rows],
        }
        for key in ("final_validation_accuracy", "best_validation_accuracy", "final_test_accuracy"):
            agg[key] = _stats(r[key] for r in rows)
        layers = max(r["layers"] for r in rows)
        agg["delta_initial"] = []
        for i in range(layers):
            d = _stats((r["delta_norms"]["initial"] or [None] * layers)[i] for r in rows)
            agg["delta_initial"].append(d if d["n"] else None)
        agg["layers"] = layers
        counts: dict[str, int] = {}
        for r in rows:
            for rule in dict.fromkeys(f["rule"] for f in r.get("diagnosis") or []):
                counts[rule] = counts.get(rule, 0) + 1
        agg["findings"] = counts  # rule -> how many of the configuration's runs have it
        out.append(agg)
    return out


def findings_cell(agg: dict[str, Any]) -> str:
    """ "vanishing gradient 3/3, dead units 1/3": each finding and in how many of the runs."""
    n = agg["runs"]
    return ", ".join(f"{rule.replace('_', ' ')} {k}/{n}" for rule, k in sorted(agg.get("findings", {}).items()))


def _stats(values: Any) -> dict[str, Any]:
    m, sd, n = mean_std(values)
    return {"mean": m, "std": sd if n > 1 else None, "n": n}


def _pm(d: dict[str, Any] | None, pct: bool) -> str:
    """ "mean ± std"; the value alone where one run has it (no spread to show)."""
    if not d or d["mean"] != d["mean"]:
        return ""
    if pct:
        return f"{100 * d['mean']:.2f}" + (f" ± {100 * d['std']:.2f}" if d.get("std") is not None else "")
    return f"{d['mean']:.3g}" + (f" ± {d['std']:.2g}" if d.get("std") is not None else "")


def configuration_table(report: Report) -> Table:
    """Per configuration: runs, mean ± std of the accuracies over seeds, the findings, ‖δ^l‖ at initialization."""
    aggs = configurations(report)
    n = report.max_hidden
    with_findings = any(a.get("findings") for a in aggs)  # a healthy family keeps the table as it was
    columns = [
        Column("configuration", "config", "left"),
        Column("runs"),
        Column("final valid %", "final_validation_accuracy"),
        Column("best valid %", "best_validation_accuracy"),
        Column("final test %", "final_test_accuracy"),
    ]
    columns += [Column("findings", align="left")] if with_findings else []
    columns += [Column(f"‖δ‖ h{h}", f"delta_initial_h{h}") for h in range(1, n + 1)] + [
        Column("‖δ‖ out", "delta_initial_out")
    ]
    body, values = [], []
    for a in aggs:
        deltas = a["delta_initial"]
        cells = list(deltas[:-1]) + [None] * (n - (len(deltas) - 1)) + [deltas[-1]] if deltas else [None] * (n + 1)
        accs = [a[k] for k in ("final_validation_accuracy", "best_validation_accuracy", "final_test_accuracy")]
        found = [findings_cell(a)] if with_findings else []
        body.append(
            [a["config"], str(a["runs"]), *(_pm(x, True) for x in accs), *found, *(_pm(c, False) for c in cells)]
        )
        values.append([a["config"], a["runs"], *accs, *found, *cells])
    return Table(CONFIG_TITLE, columns, body, values)


CONFIG_TITLE = "per configuration: mean ± std over seeds (‖δ‖ at initialization)"


# --- formatting ---------------------------------------------------------------


def _pct(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def _num(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _secs(v: Any) -> str:
    if v is None:
        return ""
    if v < 120:
        return f"{v:.1f}s"
    if v < 7200:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def row_label(row: dict[str, Any]) -> str:
    """A row's name in every table: a sweep member's id, configuration and seed, else the run's label."""
    if "member" in row:
        return f"{row['member']} {row['config']} s{row['seed']}"
    return row["label"]


def _set_labels(rows: list[dict[str, Any]]) -> None:
    """Each run's label: its name, or its folder's name where names repeat."""
    names = [r["run"] for r in rows]
    for r in rows:
        r["label"] = r["run"] if names.count(r["run"]) == 1 else Path(r["path"]).name


def _layer_columns(report: Report) -> list[str]:
    """hidden 1, hidden 2, ..., output; the runs' own labels (conv 1, ...) when they all share them."""
    shared = {tuple(r.get("layer_labels") or ()) for r in report.rows}
    if len(shared) == 1 and len(labels := shared.pop()) == report.max_hidden + 1:
        return list(labels)
    return [f"hidden {h}" for h in range(1, report.max_hidden + 1)] + ["output"]


def _layer_values(row: dict[str, Any], values: list[float] | None, n_hidden: int) -> list[float | None]:
    """Per-layer list 1..L -> n_hidden hidden slots + output (None where the run has no such layer)."""
    if not values:
        return [None] * (n_hidden + 1)
    hidden = list(values[:-1]) + [None] * (n_hidden - (len(values) - 1))
    return hidden + [values[-1]]


def _train_header(report: Report) -> str:
    """ "train (probe)" or "train (full)": what the rows' train accuracy was measured on."""
    labels = {train_label(r.get("train_metrics")) for r in report.rows if r.get("train_metrics") != "none"}
    return labels.pop() if len(labels) == 1 else "train" if not labels else "train (probe/full)"


def accuracy_table(report: Report, compact: bool = False) -> Table:
    """One row per run: what differs (runs given one by one), status, final and best accuracies, wall time."""
    pct = "" if compact else " %"
    columns = [
        Column("run", align="left"),
        Column("status", align="left"),
        Column("epochs", "epochs_completed"),
        Column("final " + _train_header(report).replace(" (", "\n(") + pct, "final_train_accuracy"),
        Column(f"final\nvalid{pct}", "final_validation_accuracy"),
        Column(f"final\ntest{pct}", "final_test_accuracy"),
        Column("best\nepoch", "best_epoch"),
        Column(f"best\nvalid{pct}", "best_validation_accuracy"),
        Column(f"best\ntest{pct}", "best_test_accuracy"),
        Column("wall\ntime", "wall_seconds"),
    ]
    # runs given one by one: what differs between them, a column per key (a sweep member's label says it)
    keys = [k for k in report.point_keys if any("point" in r and "member" not in r for r in report.rows)]
    columns[1:1] = [Column(k.replace(".", "\n", 1), k) for k in keys]
    shown = [key for key, _, _ in ACCURACY_FIELDS[1:]]  # final train ... best test (final_epoch is "epochs")
    body, values = [], []
    for r in report.rows:
        point = [(r.get("point") or {}).get(k) if "member" not in r else None for k in keys]
        accs = [r[key] for key in shown]
        body.append(
            [
                row_label(r),
                *[format_value(k, v) if "member" not in r else "" for k, v in zip(keys, point)],
                r["status"],
                "" if r["epochs_completed"] is None else str(r["epochs_completed"]),
                *(("" if v is None else str(v)) if key == "best_epoch" else _pct(v) for key, v in zip(shown, accs)),
                _secs(r["wall_seconds"]),
            ]
        )
        values.append([row_label(r), *point, r["status"], r["epochs_completed"], *accs, r["wall_seconds"]])
    return Table(f"{report.title}: accuracy (%)", columns, body, values)


def delta_table(report: Report) -> Table:
    """‖δ^l‖ per layer: 'initial → end' cells; hidden layers aligned from the input, output last."""
    n = report.max_hidden
    columns = [Column("run", align="left")] + [Column(h) for h in _layer_columns(report)]
    body, values = [], []
    for r in report.rows:
        ini = _layer_values(r, r["delta_norms"]["initial"], n)
        fin = _layer_values(r, r["delta_norms"]["final"], n)
        cells = ["" if a is None and b is None else f"{_num(a) or '-'} → {_num(b) or '-'}" for a, b in zip(ini, fin)]
        body.append([row_label(r)] + cells)
        values.append([row_label(r)] + [{"initial": a, "final": b} for a, b in zip(ini, fin)])
    return Table(DELTA_TITLE, columns, body, values)


DELTA_TITLE = "‖δˡ‖ per layer (probe set): at initialization → at the end"


def tables(report: Report, compact: bool = False) -> list[Table]:
    """The report's tables, in the order every format shows them: accuracy, ‖δ^l‖, and per configuration
    (last: the summary over seeds, where there is one). ``compact``: the accuracy headers without "%"."""
    per_config = configuration_table(report)
    return [accuracy_table(report, compact), delta_table(report)] + ([per_config] if per_config.rows else [])


def to_markdown(report: Report) -> str:
    acc, delta, *per_config = tables(report)
    parts = [
        f"# {report.title}",
        "",
        "## Accuracy",
        "",
        md_table(acc),
        "",
        f"## {DELTA_TITLE}",
        "",
        md_table(delta),
        "",
    ]
    parts += ["## Diagnosis", ""]
    for r in report.rows:
        found = r.get("diagnosis") or []
        parts.append(f"- **{row_label(r)}**: " + ("no findings" if not found else f"{plural(len(found), 'finding')}"))
        parts += [f"  - {f['severity']}: {f['rule'].replace('_', ' ')}: {f['message']}" for f in found]
    parts.append("")
    for t in per_config:
        parts += [f"## {CONFIG_TITLE[0].upper()}{CONFIG_TITLE[1:]}", "", md_table(t), ""]
    return "\n".join(parts)


def csv_fields(report: Report) -> list[str]:
    n = report.max_hidden
    layers = [f"h{h}" for h in range(1, n + 1)] + ["out"]
    fields = ["run", "path", "status"]
    if any("member" in r for r in report.rows):
        fields += ["member"]
    point_keys = list(report.point_keys)
    for r in report.rows:
        point_keys += [k for k in r.get("point") or {} if k not in point_keys]
    fields += point_keys
    fields += ["seed", "sizes", "epochs_completed"] + [k for k, _, _ in ACCURACY_FIELDS] + ["wall_seconds"]
    fields += [f"delta_initial_{l}" for l in layers] + [f"delta_final_{l}" for l in layers]
    return fields + ["findings"]


def runs_table(report: Report) -> Table:
    """Every number of every run, one column each (``nnlab report --format csv``)."""
    n = report.max_hidden
    layers = [f"h{h}" for h in range(1, n + 1)] + ["out"]
    fields = csv_fields(report)
    values = []
    for r in report.rows:
        flat = {k: v for k, v in r.items() if k in fields}
        flat.update(r.get("point") or {})
        for at in ("initial", "final"):
            for name, v in zip(layers, _layer_values(r, r["delta_norms"][at], n)):
                flat[f"delta_{at}_{name}"] = v
        flat["findings"] = ";".join(f["rule"] for f in r.get("diagnosis") or [])
        values.append([flat.get(k) for k in fields])
    rows = [[str(csv_cell(v)) for v in row] for row in values]
    return Table(
        report.title, [Column(k, align="left" if k in ("run", "path") else "right") for k in fields], rows, values
    )


def to_csv(report: Report) -> str:
    return table_csv(runs_table(report))


def to_json(report: Report) -> str:
    doc = {"title": report.title, "keys": report.point_keys, "runs": json_safe(report.rows)}
    aggs = configurations(report)
    if aggs:
        doc["configurations"] = json_safe(aggs)
    return json.dumps(doc, indent=2) + "\n"


def rich_tables(report: Report) -> list[Any]:
    acc, *rest = tables(report, compact=True)
    if all(r["status"] == "completed" for r in report.rows):  # save the width of a column saying so
        acc = acc.drop("status")
        acc.title += ", all completed"
    out = [to_rich(acc)] + [to_rich(t) for t in rest]
    out.append(diagnosis_text(report))
    return out


DIAGNOSIS_TITLE = "diagnosis (docs/diagnosis.md)"


def diagnosis_text(report: Report):
    """The findings of each run, a line each (rich Text: brackets in messages are not markup)."""
    from rich.text import Text

    text = Text(f"{DIAGNOSIS_TITLE}\n", style="italic")
    for r in report.rows:
        found = r.get("diagnosis") or []
        text.append(f" {row_label(r)}: ", style="bold")
        text.append("no findings\n" if not found else f"{plural(len(found), 'finding')}\n")
        for f in found:
            text.append(
                f"   {f['severity']}: {f['rule'].replace('_', ' ')}: ",
                style="red" if f["severity"] == "error" else "yellow",
            )
            text.append(f"{f['message']}\n")
    return text


def output_format(output: Path | None, fmt: str | None) -> str:
    """The format to write: ``fmt`` if given, else the one ``output``'s extension names ("table" on screen).

    A file's extension must be one of ``EXTENSIONS`` and agree with ``fmt`` when
    both are given: a report never lands in a file whose name says otherwise.
    """
    if output is None:
        return fmt or "table"
    ext = output.suffix.lower()
    known = ", ".join(EXTENSIONS)
    if ext not in EXTENSIONS:
        found = f"extension {output.suffix!r}" if ext else "no extension"
        raise UserError(f"{output}: {found}; a report file ends in {known} (Markdown, CSV, JSON, text table, HTML)")
    if fmt is not None and fmt != EXTENSIONS[ext]:
        wanted = [e for e, f in EXTENSIONS.items() if f == fmt]
        raise UserError(
            f"{output}: --format {fmt} does not match the extension {output.suffix!r}"
            f" ({EXTENSIONS[ext]}); name the file *{wanted[0]} or drop --format"
        )
    return EXTENSIONS[ext]


def render(report: Report, fmt: str) -> str:
    """md, csv or json text; 'table' renders the rich tables as plain text (for a file)."""
    if fmt == "md":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    if fmt == "table":
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, width=200, color_system=None, force_terminal=False)
        for t in rich_tables(report):
            console.print(t)
        return buf.getvalue()
    raise UserError(f"unknown report format {fmt!r}; valid: {', '.join(FORMATS)}")
