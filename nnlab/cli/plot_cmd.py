"""``nnlab plot``: figures from run directories and sweep directories.

Thin: reading is nnlab.results, figures are nnlab.plotting (which imports
matplotlib only when drawing, so ``nnlab --help`` stays light).
"""

from __future__ import annotations

from pathlib import Path

import click

from nnlab.cli.common import user_errors

FORMATS = ("png", "svg", "pdf")


@click.command("plot", short_help="Figures of a run, of a sweep or comparing runs (PNG, SVG or PDF).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[RUN_DIR|SWEEP_DIR] [MORE_RUN_DIRS]...")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="png", show_default=True, help="Figure file format."
)
@click.option(
    "--output",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Folder for the figures (default: RUN_DIR/plots or SWEEP_DIR/plots; ./plots for several runs or --activations alone).",
)
@click.option(
    "--out", "out_old", type=click.Path(file_okay=False, path_type=Path), hidden=True
)  # the old name, kept working
@click.option(
    "--activations",
    "activations",
    is_flag=True,
    help="Also draw every activation function of the engine and its derivative (a teaching figure).",
)
@user_errors
def plot(paths: tuple[Path, ...], fmt: str, out: Path | None, out_old: Path | None, activations: bool) -> None:
    """Draw the figures of RUN_DIR (or compare a SWEEP_DIR's members, or several run directories).

    \b
    One run:   speed of learning (||δ^l|| per hidden layer), ||δ^l|| per layer
               at initialization and at the end, accuracy and loss with the
               best epoch, activation health, update-to-weight ratio, gradient
               flow, distance from initialization; with their instruments on,
               gradient noise, the Hessian's eigenvalue against 2/η and
               histograms; after `nnlab evaluate RUN`, the confusion matrix and
               the most confidently misclassified examples.
    Several runs or a sweep: final/best validation accuracy per configuration
               (mean ± std over seeds), the initial ||δ^l|| per hidden layer,
               and learning curves and ||δ^l|| per epoch overlaid, one line
               per configuration, labelled by what differs.

    Prints the path of each figure written; a figure whose data the run lacks
    (an instrument switched off) is skipped with a note.
    """
    from nnlab.errors import UserError
    from nnlab.plotting import plot_activations, specs, write_specs
    from nnlab.results import select

    if out_old is not None:
        if out is not None and out != out_old:
            raise UserError(f"--output {out} and --out {out_old}: give one (--out is the old name of --output)")
        out = out_old
    if not paths and not activations:
        raise UserError("give a run directory, a sweep directory or several runs to plot (or --activations)")

    written: list[Path] = []
    notes: list[str] = []
    # one path (a run, a sweep, a folder of runs): its plots/ folder; several: ./plots
    outdir = out or (paths[0] / "plots" if len(paths) == 1 else Path("plots"))
    if paths:
        selection = select(paths)
        if selection.sweeps and not selection.members:
            raise UserError(f"{paths[0]}: no finished members to plot yet")
        figures, notes = specs(selection)
        written += write_specs(figures, outdir, fmt)
    if activations:
        written += plot_activations(outdir, fmt)

    for path in written:
        click.echo(str(path))
    for note in notes:
        click.echo(f"note: {note}", err=True)
