"""``nnlab evaluate``: a finished run's accuracy, per class and as a confusion matrix (logic in nnlab.evaluation)."""

from __future__ import annotations

from pathlib import Path

import click

from nnlab.cli.common import user_errors

FORMATS = ("table", "md", "csv", "json")  # as `nnlab report`'s


@click.command("evaluate", short_help="A run's accuracy with final and best weights, per class and confusion matrix.")
@click.argument("run_dir", type=click.Path(path_type=Path), metavar="RUN_DIR")
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Evaluate on your own data instead: a .npz or .csv file read as data.dataset npz/csv reads it.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="data.KEY=VALUE",
    help="Change the run's data section (repeatable), e.g. --set data.dataset=fashion-mnist.",
)
@click.option(
    "--part",
    type=click.Choice(["test", "validation", "train"]),
    default="test",
    show_default=True,
    help="Which part of the data to evaluate on.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default on screen), md, csv or json. With --output the file's extension picks it"
    " (.md, .markdown, .csv, .json, .txt for the table), as for nnlab report.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (ending in .md, .markdown, .csv, .json or .txt) instead of printing.",
)
@click.option(
    "--save/--no-save",
    default=True,
    show_default=True,
    help="Keep the result in RUN_DIR (evaluation.json, evaluation-mistakes.npz) for nnlab plot and the HTML report.",
)
@user_errors
def evaluate(
    run_dir: Path,
    data_file: Path | None,
    sets: tuple[str, ...],
    part: str,
    fmt: str | None,
    output: Path | None,
    save: bool,
) -> None:
    """Accuracy of the network in RUN_DIR with its final weights (weights.npz) and those of its
    best-validation epoch (weights-best.npz), accuracy per class and the confusion matrix.

    On the run's own test set by default; --part, --set data.KEY=VALUE or --data FILE pick
    other data, which must fit the network (its inputs and classes).
    The result is kept in RUN_DIR (the latest evaluation replaces the one before):
    nnlab plot RUN_DIR then draws the confusion matrix and the most confidently
    misclassified images.

    \b
    Examples:
      nnlab evaluate runs/20261203-051904-own-digits
      nnlab evaluate runs/20261203-051904-own-digits --data other.npz --format json
      nnlab evaluate RUN --set data.dataset=fashion-mnist --part validation
    """
    from nnlab.errors import UserError
    from nnlab.evaluation import evaluate_run, render
    from nnlab.evaluation import save as save_evaluation
    from nnlab.io import atomic_write_text
    from nnlab.reporting import output_format

    fmt = output_format(output, fmt)  # refused before the run is read
    if fmt == "html":  # only an output file's extension gets here: --format offers no html
        raise UserError(f"{output}: nnlab evaluate writes a table, md, csv or json; the HTML report is"
                        f" nnlab report {run_dir} -o report.html (it shows the saved evaluation)")  # fmt: skip
    ev = evaluate_run(run_dir, sets=sets, data_file=data_file, part=part)
    text = render(ev, fmt)
    saved = save_evaluation(ev) if save else []
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(output, text)
        except OSError as e:
            raise UserError(f"{output}: cannot write ({e.strerror or e})") from None
        click.echo(str(output))
    if saved:
        click.echo(f"saved {', '.join(map(str, saved))} (nnlab plot {run_dir} draws them)", err=True)
