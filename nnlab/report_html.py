"""``nnlab report --format html``: one self-contained HTML file to hand on.

The file holds the runs' configuration, the tables of ``nnlab report``
(accuracy, ‖δˡ‖ per layer, per configuration for sweeps), every figure
``nnlab plot`` draws for the same paths (PNG embedded as base64, with a
note for each figure skipped) and, where a run directory holds a diagnosis
(``diagnosis.json`` or ``summary.json["diagnosis"]``), its findings. CSS is
inline; there is no script, font or image to fetch: it opens offline in any
browser. Every text taken from a run is escaped.

    html = render_html(["runs/20261203-054634-quickstart"])
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from nnlab.plotting import specs as figure_specs
from nnlab.reporting import Report, build_report, row_label, tables
from nnlab.results import Selection, format_value, read_findings, select
from nnlab.tables import Column, Table, html_text, to_html

DPI = 80  # modest: the file stays small (a figure is 30-120 kB), still sharp on a screen

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em;
margin-top: 2em; } h3 { font-size: 1.05em; }
.generated { color: #666; font-size: 0.9em; margin-top: 0; }
nav { background: #f6f6f6; border: 1px solid #ddd; padding: 0.5em 1em; display: inline-block; }
nav ol { margin: 0.3em 0; padding-left: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #7a5b00; } .sev-error, .sev-critical { color: #b00020; font-weight: 600; }
.sev-warning { color: #8a5a00; font-weight: 600; } .sev-info { color: #1f5fa8; }
"""


def png_base64(spec: Any, dpi: int = DPI) -> str:
    from nnlab.plotting.draw import draw

    buf = io.BytesIO()
    draw(spec).savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- HTML pieces -------------------------------------------------------------------


def _yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def config_section(report: Report, selection: Selection) -> str:
    """A sweep: its base config and the keys it varies; runs: each resolved config.yaml (one open, others folded)."""
    parts: list[str] = []
    for sweep in selection.sweeps:
        base = sweep.spec.get("base")
        label = sweep.spec.get("base_label") or "base"
        parts.append(f"<h3>Sweep {html_text(sweep.name)}: base config ({html_text(label)})</h3>")
        parts.append(f"<pre>{html_text(_yaml(base) if isinstance(base, dict) else base)}</pre>" if base else
                     "<p>(sweep.json records no base config)</p>")  # fmt: skip
        keys = ", ".join(sweep.keys) or "(none)"
        parts.append(f"<p>Varied keys: <code>{html_text(keys)}</code>; each member's values are in the"
                     " accuracy table (its configuration label).</p>")  # fmt: skip
    runs = [r for r in report.rows if "member" not in r]
    if report.point_keys and len(runs) > 1:
        columns = [Column("run", align="left"), *(Column(k, align="left") for k in report.point_keys)]
        body = [
            [r["label"], *[format_value(k, (r.get("point") or {}).get(k)) for k in report.point_keys]] for r in runs
        ]
        parts.append("<h3>What differs between the runs</h3>" + to_html(Table("", columns, body)))
    run_of = {str(m.run.path): m.run for m in selection.members}
    for i, r in enumerate(runs):
        text = run_of[r["path"]].config_text()
        open_ = " open" if i == 0 else ""
        parts.append(f"<details{open_}><summary>config.yaml of <b>{html_text(r['label'])}</b> ({html_text(r['path'])})"
                     f"</summary><pre>{html_text(text)}</pre></details>")  # fmt: skip
    return "\n".join(parts)


def diagnosis_section(report: Report) -> str:
    parts = []
    for r in report.rows:
        findings = read_findings(r["path"])
        if not findings:
            continue
        body = []
        for f in findings:
            sev = str(f.get("severity", ""))
            rest = {k: v for k, v in f.items() if k not in ("rule", "severity", "message")}
            details = "; ".join(f"{k}: {json.dumps(v, default=str, ensure_ascii=False)}" for k, v in rest.items())
            body.append((sev, str(f.get("rule", "")), str(f.get("message", "")), details))
        rows = "".join(
            f'<tr><td class="sev-{escape(sev.lower())}">{html_text(sev)}</td><td><code>{html_text(rule)}</code></td>'
            f"<td>{html_text(msg)}</td><td>{html_text(det)}</td></tr>"
            for sev, rule, msg, det in body
        )
        parts.append(f"<h3>{html_text(row_label(r))}</h3><table><thead><tr><th>severity</th><th>rule</th>"
                     f"<th>finding</th><th>details</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip
    return "\n".join(parts)


def render_html(
    paths: Sequence[str | Path], report: Report | None = None, *, now: _dt.datetime | None = None, dpi: int = DPI
) -> str:
    """The whole HTML document for ``nnlab report PATHS --format html``."""
    from nnlab import __version__

    paths = [Path(p) for p in paths]
    report = report if report is not None else build_report(select(paths))
    now = now or _dt.datetime.now(_dt.timezone.utc)
    selection = report.selection or select(paths)
    specs, notes = figure_specs(selection)  # what nnlab plot draws for the same paths
    sections: list[tuple[str, str, str]] = []  # (id, heading, body)

    sections.append(("config", "Configuration", config_section(report, selection)))
    acc, delta, *per_config = tables(report)
    acc.title = "accuracy (%): final epoch and best validation epoch"
    sections.append(("accuracy", "Accuracy", to_html(acc)))
    sections.append(("norms", "Per-layer gradient norms", to_html(delta)))
    for t in per_config:
        sections.append(("configurations", "Per configuration", to_html(t)))
    diagnosis = diagnosis_section(report)
    if diagnosis:
        sections.append(("diagnosis", "Diagnosis", diagnosis))
    figs = []
    for spec in specs:
        title = spec.title or spec.name
        figs.append(f'<figure id="fig-{escape(spec.name)}"><img alt="{escape(title)}" '
                    f'src="data:image/png;base64,{png_base64(spec, dpi)}">'
                    f"<figcaption>{html_text(spec.name)}: {html_text(title)}</figcaption></figure>")  # fmt: skip
    if notes:
        figs.append('<ul class="notes">' + "".join(f'<li class="note">{html_text(n)}</li>' for n in notes) + "</ul>")
    if not figs:
        figs.append("<p>No figure: the runs recorded nothing to draw.</p>")
    sections.append(("figures", f"Figures ({len(specs)})", "\n".join(figs)))

    title = f"nnlab report: {report.title}"
    which = ", ".join(str(p) for p in paths)
    toc = "".join(f'<li><a href="#{sid}">{html_text(h)}</a></li>' for sid, h, _ in sections)
    body = "\n".join(f'<section id="{sid}"><h2>{html_text(h)}</h2>\n{b}\n</section>' for sid, h, b in sections)
    stamp = now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nnlab {escape(__version__)}">
<title>{html_text(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{html_text(title)}</h1>
<p class="generated">{html_text(which)}<br>Generated by nnlab {escape(__version__)} on {stamp}.</p>
</header>
<nav><b>Contents</b><ol>{toc}</ol></nav>
{body}
</body>
</html>
"""
