"""One table model, rendered to rich, Markdown, HTML, plain text, CSV and JSON.

``nnlab report``, ``nnlab sweep``'s summary and the HTML report build
``Table``s (what to show) and hand them to one of the renderers below (how
to show it), so a column added to a table appears in every format:

    t = Table("accuracy", [Column("run", align="left"), Column("best\\nvalid %", key="best_validation_accuracy")],
              rows=[["quickstart", "91.00"]], values=[["quickstart", 0.91]])
    to_markdown(t)   # | run | best valid % |  ...
    to_csv(t)        # run,best_validation_accuracy / quickstart,0.91

A cell's text is what people read (percentages, "mean ± std", "0.08 → 0.02");
its value is what programs read (CSV, JSON: fractions as recorded, numbers
unrounded). A header's "\\n" marks where a narrow rendering (rich) may break
it; the others show it on one line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any


@dataclass(frozen=True)
class Column:
    header: str
    key: str = ""  # the field's name in CSV and JSON (default: the header on one line)
    align: str = "right"  # "left" for names and labels

    @property
    def name(self) -> str:
        return self.key or self.header.replace("\n", " ")


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[str]]  # the text of each cell
    values: list[list[Any]] | None = None  # what CSV and JSON write (default: the text)
    notes: list[str] = field(default_factory=list)

    @property
    def head(self) -> list[str]:
        return [c.header for c in self.columns]

    def raw(self) -> list[list[Any]]:
        return self.values if self.values is not None else self.rows

    def pick(self, indices: Sequence[int], title: str | None = None) -> Table:
        """The table with only the columns at ``indices`` (in that order)."""
        return replace(
            self,
            title=self.title if title is None else title,
            columns=[self.columns[i] for i in indices],
            rows=[[r[i] for i in indices] for r in self.rows],
            values=None if self.values is None else [[v[i] for i in indices] for v in self.values],
        )

    def drop(self, header: str) -> Table:
        return self.pick([i for i, c in enumerate(self.columns) if c.header != header])


# --- for people -------------------------------------------------------------------


def to_markdown(t: Table) -> str:
    """A GitHub Markdown table (no title): headers on one line, right-aligned numbers, ``|`` escaped,
    an empty cell as one space."""

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

    align = ["---" if c.align == "left" else "---:" for c in t.columns]
    lines = [line([c.header.replace("\n", " ") for c in t.columns]), "|" + "|".join(align) + "|"]
    lines += [line([cell.replace("|", "\\|") for cell in row]) for row in t.rows]
    return "\n".join(lines)


def to_text(t: Table) -> str:
    """Columns padded to line up, for a pipe or a log (no colours, no box)."""
    head = [c.header.replace("\n", " ") for c in t.columns]
    widths = [max([len(h)] + [len(r[i]) for r in t.rows]) for i, h in enumerate(head)]
    lines = []
    for row in [head, *t.rows]:
        cells = (s.ljust(w) if c.align == "left" else s.rjust(w) for s, w, c in zip(row, widths, t.columns))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


_NUMBER = re.compile(r"[-+0-9.e ±→]+[smh]?")  # 93.20, 0.0817 → 0.0229, 1.2 ± 0.3, 12.5s


def _is_number(cell: str) -> bool:
    return any(c.isdigit() for c in cell) and _NUMBER.fullmatch(cell) is not None


def html_text(s: Any) -> str:
    return escape("" if s is None else str(s)).replace("\n", "<br>")


def to_html(t: Table, caption: bool = True) -> str:
    """An HTML ``<table>`` (every text escaped); numbers in right-aligned ``num`` cells."""
    out = ["<table>"]
    if caption and t.title:
        out.append(f"<caption>{html_text(t.title)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html_text(c.header)}</th>" for c in t.columns) + "</tr></thead><tbody>")
    for row in t.rows:
        cells = (
            f'<td class="num">{html_text(s)}</td>'
            if c.align == "right" and _is_number(s)
            else f"<td>{html_text(s)}</td>"
            for s, c in zip(row, t.columns)
        )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def to_rich(t: Table, title: str | None = None, split_spread: bool = False, fold_labels: bool = True):
    """A rich Table: numbers keep their width and never wrap; a narrow terminal folds the first
    (label) column instead (unless not ``fold_labels``). ``split_spread``: "mean ± std" cells put
    the std under the mean."""
    from rich import box
    from rich.table import Table as RichTable

    rt = RichTable(title=t.title if title is None else title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    rows = [[s.replace(" ± ", "\n± ") for s in row] if split_spread else row for row in t.rows]
    for i, c in enumerate(t.columns):
        justify = "left" if c.align == "left" else "right"
        if not fold_labels:  # labels whole; split cells may wrap their headers to fit
            rt.add_column(c.header, justify=justify, no_wrap=i == 0 or not split_spread)
            continue
        width = max([len(x) for x in c.header.split("\n")] + [max(map(len, r[i].split("\n"))) for r in rows])
        rt.add_column(
            c.header,
            justify=justify,
            no_wrap=i > 0,
            overflow="fold" if i == 0 else "ellipsis",
            min_width=min(width, 12) if i == 0 else None if c.align == "left" else width,
        )
    for row in rows:
        rt.add_row(*row)
    return rt


def fit_rich(t: Table, width: int, title: str | None = None):
    """(the rich table of ``t``, whether it fits ``width`` columns): "mean ± std" on one line where
    that fits, else the std under the mean (kept, with False, when neither fits). Labels are
    never folded: the caller splits a table too wide into narrower ones."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=width)
    wide = console.options.update_width(10_000)  # the natural width, not clamped to the console's
    for split in (False, True):
        rt = to_rich(t, title, split_spread=split, fold_labels=False)
        if Measurement.get(console, wide, rt).maximum <= width:
            return rt, True
    return rt, False


# --- for programs -------------------------------------------------------------------


def csv_cell(v: Any) -> Any:
    """A value as a CSV cell: empty for None, exact floats (repr), lists of numbers joined by "-"."""
    if v is None:
        return ""
    if isinstance(v, list):
        return "-".join(str(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return v


def to_csv(t: Table, cell=csv_cell) -> str:
    """The table's values, one header row of column keys (``cell`` turns a value into its CSV text)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.name for c in t.columns])
    for row in t.raw():
        w.writerow([cell(v) for v in row])
    return buf.getvalue()


def json_safe(v: Any) -> Any:
    """NaN and infinities (not JSON) as null, through lists and dicts."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_safe(x) for x in v]
    return v


def to_records(t: Table) -> list[dict[str, Any]]:
    """The table's values as one JSON-ready object per row, keyed by column key."""
    return [json_safe({c.name: v for c, v in zip(t.columns, row)}) for row in t.raw()]


def to_json(t: Table) -> str:
    return json.dumps({"title": t.title, "rows": to_records(t)}, indent=2) + "\n"
