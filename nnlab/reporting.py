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

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.errors import UserError
from nnlab.results import Run, Selection, format_value, mean_std, select
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
        if col == "epoch":
            row[key] = run.final_epoch if part == "final" else run.best_epoch()
        else:
            row[key] = run.result(part, col)
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


def configuration_table(report: Report) -> tuple[list[str], list[list[str]]]:
    aggs = configurations(report)
    n = report.max_hidden
    with_findings = any(a.get("findings") for a in aggs)  # a healthy family keeps the table as it was
    head = ["configuration", "runs", "final valid %", "best valid %", "final test %"]
    head += ["findings"] if with_findings else []
    head += [f"‖δ‖ h{h}" for h in range(1, n + 1)] + ["‖δ‖ out"]
    body = []
    for a in aggs:
        deltas = a["delta_initial"]
        cells = list(deltas[:-1]) + [None] * (n - (len(deltas) - 1)) + [deltas[-1]] if deltas else [None] * (n + 1)
        body.append(
            [
                a["config"],
                str(a["runs"]),
                _pm(a["final_validation_accuracy"], True),
                _pm(a["best_validation_accuracy"], True),
                _pm(a["final_test_accuracy"], True),
            ]
            + ([findings_cell(a)] if with_findings else [])
            + [_pm(c, False) for c in cells]
        )
    return head, body


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


def _label(row: dict[str, Any]) -> str:
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


def accuracy_table(report: Report, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    head = [
        "run",
        "status",
        "epochs",
        "final " + _train_header(report).replace(" (", "\n(") + " %",
        "final\nvalid %",
        "final\ntest %",
        "best\nepoch",
        "best\nvalid %",
        "best\ntest %",
        "wall\ntime",
    ]
    # runs given one by one: what differs between them, a column per key (a sweep member's label says it)
    keys = [k for k in report.point_keys if any("point" in r and "member" not in r for r in report.rows)]
    head[1:1] = [k.replace(".", "\n", 1) for k in keys]
    if compact:
        head = [h.replace(" %", "") for h in head]
    body = [
        [
            _label(r),
            *[format_value(k, (r.get("point") or {}).get(k)) if "member" not in r else "" for k in keys],
            r["status"],
            "" if r["epochs_completed"] is None else str(r["epochs_completed"]),
            _pct(r["final_train_accuracy"]),
            _pct(r["final_validation_accuracy"]),
            _pct(r["final_test_accuracy"]),
            "" if r["best_epoch"] is None else str(r["best_epoch"]),
            _pct(r["best_validation_accuracy"]),
            _pct(r["best_test_accuracy"]),
            _secs(r["wall_seconds"]),
        ]
        for r in report.rows
    ]
    return head, body


def delta_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """‖δ^l‖ per layer: 'initial → end' cells; hidden layers aligned from the input, output last."""
    n = report.max_hidden
    head = ["run"] + _layer_columns(report)
    body = []
    for r in report.rows:
        ini = _layer_values(r, r["delta_norms"]["initial"], n)
        fin = _layer_values(r, r["delta_norms"]["final"], n)
        cells = ["" if a is None and b is None else f"{_num(a) or '-'} → {_num(b) or '-'}" for a, b in zip(ini, fin)]
        body.append([_label(r)] + cells)
    return head, body


DELTA_TITLE = "‖δˡ‖ per layer (probe set): at initialization → at the end"


def to_markdown(report: Report) -> str:
    def table(head, body):
        align = ["---"] + ["---:"] * (len(head) - 1)
        lines = ["| " + " | ".join(h.replace("\n", " ") for h in head) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines)

    parts = [
        f"# {report.title}",
        "",
        "## Accuracy",
        "",
        table(*accuracy_table(report)),
        "",
        f"## {DELTA_TITLE}",
        "",
        table(*delta_table(report)),
        "",
    ]
    parts += ["## Diagnosis", ""]
    for r in report.rows:
        found = r.get("diagnosis") or []
        parts.append(f"- **{_label(r)}**: " + ("no findings" if not found else f"{plural(len(found), 'finding')}"))
        parts += [f"  - {f['severity']}: {f['rule'].replace('_', ' ')}: {f['message']}" for f in found]
    parts.append("")
    if configurations(report):  # last: the summary over seeds
        parts += [f"## {CONFIG_TITLE[0].upper()}{CONFIG_TITLE[1:]}", "", table(*configuration_table(report)), ""]
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


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, list):
        return "-".join(str(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return v


def to_csv(report: Report) -> str:
    n = report.max_hidden
    layers = [f"h{h}" for h in range(1, n + 1)] + ["out"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=csv_fields(report), lineterminator="\n")
    w.writeheader()
    for r in report.rows:
        flat = {k: _cell(v) for k, v in r.items() if k in w.fieldnames}
        for k, v in (r.get("point") or {}).items():
            flat[k] = _cell(v)
        for at in ("initial", "final"):
            for name, v in zip(layers, _layer_values(r, r["delta_norms"][at], n)):
                flat[f"delta_{at}_{name}"] = _cell(v)
        flat["findings"] = ";".join(f["rule"] for f in r.get("diagnosis") or [])
        w.writerow(flat)
    return buf.getvalue()


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def to_json(report: Report) -> str:
    rows = [{k: v for k, v in r.items()} for r in report.rows]
    doc = {"title": report.title, "keys": report.point_keys, "runs": _json_safe(rows)}
    aggs = configurations(report)
    if aggs:
        doc["configurations"] = _json_safe(aggs)
    return json.dumps(doc, indent=2) + "\n"


def rich_tables(report: Report) -> list[Any]:
    from rich import box
    from rich.table import Table

    out = []
    acc_head, acc_body = accuracy_table(report, compact=True)
    acc_title = "accuracy (%)"
    if all(r["status"] == "completed" for r in report.rows):  # save the width of a column saying so
        i = acc_head.index("status")
        acc_head, acc_body = acc_head[:i] + acc_head[i + 1 :], [row[:i] + row[i + 1 :] for row in acc_body]
        acc_title += ", all completed"
    tables = [(acc_title, (acc_head, acc_body)), (DELTA_TITLE, delta_table(report))]
    if configurations(report):
        tables.append((CONFIG_TITLE, configuration_table(report)))
    for title, (head, body) in tables:
        t = Table(
            title=f"{report.title}: {title}" if title.startswith("acc") else title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for i, h in enumerate(head):
            # numbers keep their width; a narrow terminal folds the run names instead
            width = max([len(x) for x in h.split("\n")] + [len(row[i]) for row in body])
            t.add_column(
                h,
                justify="left" if i == 0 or h == "status" else "right",
                no_wrap=i > 0,
                overflow="fold" if i == 0 else "ellipsis",
                min_width=min(width, 12) if i == 0 else None if h == "status" else width,
            )
        for row in body:
            t.add_row(*row)
        out.append(t)
    out.append(diagnosis_text(report))
    return out


DIAGNOSIS_TITLE = "diagnosis (docs/diagnosis.md)"


def diagnosis_text(report: Report):
    """The findings of each run, a line each (rich Text: brackets in messages are not markup)."""
    from rich.text import Text

    text = Text(f"{DIAGNOSIS_TITLE}\n", style="italic")
    for r in report.rows:
        found = r.get("diagnosis") or []
        text.append(f" {_label(r)}: ", style="bold")
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
