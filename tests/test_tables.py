"""nnlab.tables: one table model, and what each renderer makes of the same table."""

from __future__ import annotations

import csv
import io
import json
import math

from nnlab.tables import Column, Table, fit_rich, to_csv, to_html, to_json, to_markdown, to_records, to_rich, to_text


def _table() -> Table:
    return Table(
        "accuracy",
        [Column("run", align="left"), Column("best\nvalid %", "best_validation_accuracy"), Column("‖δ‖ out", "delta")],
        rows=[["a|b <i>", "91.00", "1.2 ± 0.3"], ["c", "", "0.08 → 0.02"]],
        values=[["a|b <i>", 0.91, 1.2], ["c", math.nan, None]],
    )


def test_markdown_puts_headers_on_one_line_aligns_numbers_right_and_escapes_pipes():
    assert to_markdown(_table()).splitlines() == [
        "| run | best valid % | ‖δ‖ out |",
        "|---|---:|---:|",
        "| a\\|b <i> | 91.00 | 1.2 ± 0.3 |",
        "| c | | 0.08 → 0.02 |",
    ]


def test_csv_and_json_write_the_values_under_the_column_keys_not_the_text():
    rows = list(csv.reader(io.StringIO(to_csv(_table()))))
    assert rows == [["run", "best_validation_accuracy", "delta"], ["a|b <i>", "0.91", "1.2"], ["c", "nan", ""]]
    assert to_records(_table())[1] == {"run": "c", "best_validation_accuracy": None, "delta": None}  # NaN: null
    assert json.loads(to_json(_table()))["rows"][0]["best_validation_accuracy"] == 0.91
    # a table without values writes its text
    plain = Table("t", [Column("x")], [["1.5"]])
    assert to_csv(plain) == "x\n1.5\n"


def test_html_escapes_every_text_and_marks_number_cells():
    html = to_html(_table())
    assert "<caption>accuracy</caption>" in html and "<th>best<br>valid %</th>" in html
    assert "<td>a|b &lt;i&gt;</td>" in html and "<i>" not in html
    assert '<td class="num">91.00</td>' in html and '<td class="num">0.08 → 0.02</td>' in html
    assert '<td class="num"></td>' not in html  # an empty cell is no number


def test_text_lines_up_the_columns():
    lines = to_text(_table()).splitlines()
    assert lines[0] == "run      best valid %      ‖δ‖ out"
    assert lines[2] == "c                      0.08 → 0.02"
    assert lines[1].index("91.00") + 5 == lines[0].index("best valid %") + len("best valid %")  # right-aligned


def test_rich_keeps_numbers_whole_and_splits_spreads_only_when_asked():
    from rich.console import Console

    def text(rt, width):
        c = Console(width=width, file=io.StringIO(), record=True)
        c.print(rt)
        return c.export_text()

    wide = text(to_rich(_table()), 80)
    assert "1.2 ± 0.3" in wide and "best" in wide and "valid %" in wide
    split = text(to_rich(_table(), split_spread=True), 80)
    assert "1.2 ± 0.3" not in split and "± 0.3" in split
    rt, ok = fit_rich(_table(), 200)
    assert ok and "1.2 ± 0.3" in text(rt, 200)
    rt, ok = fit_rich(_table(), 30)  # too narrow even split: the split one is kept, labels never folded
    assert not ok and "a|b <i>" in text(rt, 200)


def test_pick_and_drop_keep_text_and_values_together():
    t = _table().pick([2, 0], title="norms")
    assert t.title == "norms" and t.head == ["‖δ‖ out", "run"]
    assert t.rows[0] == ["1.2 ± 0.3", "a|b <i>"] and t.values[0] == [1.2, "a|b <i>"]
    assert _table().drop("run").head == ["best\nvalid %", "‖δ‖ out"]
