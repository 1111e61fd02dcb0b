"""``nnlab report``: tables of final/best accuracy, per-layer ||δ^l|| and wall time (logic in nnlab.reporting)."""

from __future__ import annotations

from pathlib import Path

import click

from nnlab.cli.common import user_errors

FORMATS = ("table", "md", "csv", "json", "html")  # nnlab.reporting.FORMATS, kept here so --help imports nothing


@click.command("report", short_help="Tables of final/best accuracy, per-layer ||δ^l|| and wall time.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RUN_DIR|SWEEP_DIR...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default on screen), md, csv, json or html (one self-contained file: config, tables,"
    " figures, diagnosis). With --output the file's extension picks it (.md, .markdown, .csv, .json,"
    " .txt for the table, .html); another extension, or one that disagrees with --format, is refused.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (ending in .md, .markdown, .csv, .json, .txt or .html) instead of printing.",
)
@user_errors
def report(paths: tuple[Path, ...], fmt: str | None, output: Path | None) -> None:
    """Tables of the runs in RUN_DIR... (run directories, sweep directories or folders of runs).

    One row per run (a sweep: per member): final and best accuracies with the
    best epoch, ||δ^l|| per layer at initialization and at the end, wall time.
    CSV and JSON keep accuracies as recorded (fractions in [0, 1]). HTML is one
    file to hand on: the config, these tables, every figure nnlab plot draws for
    the same paths and the diagnosis where a run has one; it needs no network.

    \b
    Examples:
      nnlab report runs/20261203-054634-quickstart -o report.html
      nnlab report runs/sweeps/20261203-060000-depth --format md
    """
    from nnlab.errors import UserError
    from nnlab.io import atomic_write_text
    from nnlab.reporting import build_report, output_format, render, rich_tables

    fmt = output_format(output, fmt)  # refused before any run is read
    rep = build_report(paths)
    if output is None and fmt == "table":
        from rich.console import Console

        console = Console()
        if not console.is_terminal:  # piped: don't squeeze the columns to 80
            console = Console(width=200)
        for t in rich_tables(rep):
            console.print(t)
        return
    if fmt == "html":
        from nnlab.report_html import render_html

        text = render_html(paths, rep)
    else:
        text = render(rep, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, text)  # a reader never sees half a report
    except OSError as e:
        raise UserError(f"{output}: cannot write ({e.strerror or e})") from None
    click.echo(str(output))
