"""``nnlab report``: tables of final/best accuracy, per-layer ||δ^l|| and wall time (logic in nnlab.reporting)."""

from __future__ import annotations

from pathlib import Path

import click

from nnlab.cli.common import user_errors

FORMATS = ("table", "md", "csv", "json")  # nnlab.reporting.FORMATS, kept here so --help imports nothing


@click.command("report", short_help="Tables of final/best accuracy, per-layer ||δ^l|| and wall time.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RUN_DIR|SWEEP_DIR...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default on screen), md, csv or json. With --output the file's extension picks it"
    " (.md, .markdown, .csv, .json, .txt for the table); another extension, or one that disagrees"
    " with --format, is refused.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (ending in .md, .markdown, .csv, .json or .txt) instead of printing.",
)
@user_errors
def report(paths: tuple[Path, ...], fmt: str | None, output: Path | None) -> None:
    """Tables of the runs in RUN_DIR... (run directories, sweep directories or folders of runs).

    One row per run (a sweep: per member): final and best accuracies with the
    best epoch, ||δ^l|| per layer at initialization and at the end, wall time.
    CSV and JSON keep accuracies as recorded (fractions in [0, 1]).
    """
    from nnlab.errors import UserError
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
    text = render(rep, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"{output}: cannot write ({e.strerror or e})") from None
    click.echo(str(output))
