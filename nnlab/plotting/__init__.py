"""Figures from run and sweep directories (``nnlab plot``).

Build, then draw: ``nnlab.plotting.figures`` turns a ``Run`` into
``FigureSpec``s (the plotted numbers, no matplotlib), ``nnlab.plotting.draw``
draws them with matplotlib's Agg canvas. Importing this package does not
import matplotlib; drawing does.

    from nnlab.results import load_run
    from nnlab.plotting import plot_run
    written, notes = plot_run(load_run("runs/..."), "runs/.../plots")

In a notebook, one figure as a matplotlib Figure (shown inline):

    nnlab.plotting.figure("speed_of_learning", nnlab.load_run("runs/..."))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from nnlab.errors import UserError
from nnlab.plotting.figures import COMPARE_FIGURES, RUN_FIGURES, activation_functions
from nnlab.plotting.spec import FigureSpec, Panel, Series, SkipFigure
from nnlab.results import Group, Run, Selection, Sweep, group

FORMATS = ("png", "svg", "pdf")

__all__ = [
    "FORMATS",
    "FigureSpec",
    "Panel",
    "Series",
    "SkipFigure",
    "RUN_FIGURES",
    "COMPARE_FIGURES",
    "run_specs",
    "compare_specs",
    "specs",
    "plot_run",
    "plot_comparison",
    "plot_activations",
    "write_specs",
    "figure",
]


def _collect(builders: Iterable[tuple[str, Callable[[], FigureSpec]]]) -> tuple[list[FigureSpec], list[str]]:
    specs, notes = [], []
    for _name, build in builders:
        try:
            specs.append(build())
        except SkipFigure as skip:
            if not skip.silent:
                notes.append(str(skip))
    return specs, notes


def run_specs(run: Run) -> tuple[list[FigureSpec], list[str]]:
    """Every figure of one run that its data allows, and a note per skipped figure."""
    return _collect((name, lambda f=f: f(run)) for name, f in RUN_FIGURES.items())


def compare_specs(keys: Sequence[str], groups: Sequence[Group]) -> tuple[list[FigureSpec], list[str]]:
    return _collect((name, lambda f=f: f(keys, groups)) for name, f in COMPARE_FIGURES.items())


def specs(selection: Selection) -> tuple[list[FigureSpec], list[str]]:
    """What ``nnlab plot PATHS`` draws for ``nnlab.results.select(PATHS)``: one run's figures, else the comparison.

    The notes name each figure skipped (and each sweep member not finished);
    a sweep with no finished member gives no figure and says so.
    """
    notes = selection.notes
    if len(selection.members) == 1 and selection.sweep is None:
        specs_, more = run_specs(selection.runs[0])
    elif not selection.members:
        return [], notes + ["no finished members to plot yet"]
    else:
        specs_, more = compare_specs(*group(selection))
    return specs_, notes + more


def figure(name: str, data: Run | Sequence[Run] | Sweep | Selection):
    """The matplotlib Figure of one of ``nnlab plot``'s figures, by name.

    ``data``: a Run for a run figure (``RUN_FIGURES``: speed_of_learning,
    gradient_norms, accuracy, ...), several runs or a Sweep for a comparison
    figure (``COMPARE_FIGURES``). A figure whose data the run lacks raises
    ``SkipFigure`` with the note ``nnlab plot`` prints.
    """
    from nnlab.plotting.draw import draw

    if name in RUN_FIGURES:
        if not isinstance(data, Run):
            raise TypeError(f"{name} draws one run; got {type(data).__name__}")
        return draw(RUN_FIGURES[name](data))
    if name in COMPARE_FIGURES:
        return draw(COMPARE_FIGURES[name](*group(data)))
    import difflib

    names = [*RUN_FIGURES, *COMPARE_FIGURES]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown figure {name!r}{hint}; figures: {', '.join(names)}")


def write_specs(specs: Sequence[FigureSpec], outdir: str | Path, fmt: str = "png") -> list[Path]:
    """Draw and save each spec as ``outdir/<name>.<fmt>``; the paths written."""
    from nnlab.plotting.draw import draw, save

    if fmt not in FORMATS:
        raise UserError(f"unknown figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{outdir}: cannot create the plots folder ({e.strerror or e})") from None
    return [save(draw(spec), outdir / f"{spec.name}.{fmt}") for spec in specs]


def plot_run(run: Run, outdir: str | Path, fmt: str = "png") -> tuple[list[Path], list[str]]:
    specs, notes = run_specs(run)
    return write_specs(specs, outdir, fmt), notes


def plot_comparison(
    runs: Sequence[Run] | Sweep | Selection, outdir: str | Path, fmt: str = "png"
) -> tuple[list[Path], list[str]]:
    specs_, notes = compare_specs(*group(runs))
    return write_specs(specs_, outdir, fmt), notes


def plot_activations(outdir: str | Path, fmt: str = "png") -> list[Path]:
    return write_specs([activation_functions()], outdir, fmt)
