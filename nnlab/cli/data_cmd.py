"""``nnlab data``: download MNIST or Fashion-MNIST and show which data nnlab can find.

NumPy and rich are imported inside the commands so ``nnlab --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nnlab.cli.common import SuggestingGroup, user_errors

DIR_HELP = (
    "The data folder [default: $NNLAB_DATA, else ~/.cache/nnlab]: the MNIST IDX files are in DIR/mnist"
    " (or in DIR or DIR/mnist-idx if they are already there), Nielsen's mnist.pkl.gz in DIR,"
    " Fashion-MNIST's IDX files in DIR/fashion-mnist."
)
FETCHABLE = ["mnist", "fashion-mnist"]


class _PlainReporter:
    """A line per file (logs, pipes, CI); matches ``nnlab.data.fetch.FetchReporter``."""

    def __enter__(self) -> _PlainReporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def present(self, name: str, path: Path) -> None:
        click.echo(f"{name}: already present in {path.parent}, verified")

    def start(self, name: str, url: str, total: int | None) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def failed(self, name: str, where: str, reason: str) -> None:
        click.echo(f"{name}: {where}: {reason}", err=True)

    def done(self, name: str, url: str, path: Path) -> None:
        click.echo(f"{name}: downloaded from {url}, verified ({path.stat().st_size:,} bytes)")


class _RichReporter(_PlainReporter):
    """A byte progress bar per download, for a terminal."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: Any = None

    def __enter__(self) -> _RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _say(self, text: str, style: str | None = None) -> None:
        self.progress.console.print(text, style=style, markup=False, highlight=False)

    def present(self, name: str, path: Path) -> None:
        self._say(f"{name}: already present in {path.parent}, verified")

    def start(self, name: str, url: str, total: int | None) -> None:
        self.task = self.progress.add_task(name, total=total)

    def advance(self, nbytes: int) -> None:
        self.progress.advance(self.task, nbytes)

    def failed(self, name: str, where: str, reason: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        self._say(f"{name}: {where}: {reason}", style="yellow")

    def done(self, name: str, url: str, path: Path) -> None:
        self.task = None
        self._say(f"{name}: downloaded from {url}, verified")


@click.group("data", cls=SuggestingGroup)
def data() -> None:
    """Download datasets and show which ones nnlab can find."""


@data.command("fetch")
@click.argument("dataset", type=click.Choice(FETCHABLE))
@click.option("--dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help=DIR_HELP)
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Base URL to download from; repeat for fallbacks [default: $NNLAB_MNIST_MIRRORS"
    " (fashion-mnist: $NNLAB_FASHION_MNIST_MIRRORS), else the built-in list].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a mirror before trying the next.",
)
@user_errors
def fetch(dataset: str, data_dir: Path | None, mirrors: tuple[str, ...], timeout: float) -> None:
    """Download DATASET's files into the data folder, verify their sha256 and put them in place.

    Files already present and verified are kept. mnist-mini needs no download:
    it ships inside nnlab; your own data (data.dataset npz or csv) is read from
    the file data.path names.

    \b
    Exit codes: 0 ready, 2 bad input (a mirror that is not a URL, a folder that
    cannot be written), 4 source unreachable (no mirror delivered a verified
    file: no network, mirrors down, refusing, timing out or serving bad files).
    """
    from nnlab.data.datasets import default_data_dir
    from nnlab.data.fetch import fetch_idx
    from nnlab.data.mnist import find_idx, idx_target
    from nnlab.data.sources import SOURCES
    from nnlab.errors import UserError
    from nnlab.text import plural

    source = SOURCES[dataset]
    data_dir = (data_dir or default_data_dir()).expanduser()
    with _RichReporter() if sys.stdout.isatty() else _PlainReporter() as reporter:
        results = fetch_idx(source, idx_target(data_dir, source), list(mirrors), timeout=timeout, reporter=reporter)
    folder = results[0].path.parent
    click.echo(f"{source.title} is ready in {folder} ({plural(len(results), 'file')} verified)")
    try:
        found = find_idx(default_data_dir(), source).resolve()
    except UserError:
        found = None
    if found != folder.resolve():
        click.echo(
            f"nnlab looks in {default_data_dir()} by default: set NNLAB_DATA={data_dir}"
            " (or data.path in a config) to use these files"
        )


@data.command("info")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help=DIR_HELP)
@click.option("--label-column", metavar="NAME", default=None, help="A CSV FILE's label column [default: label].")
@user_errors
def info(file: Path | None, data_dir: Path | None, label_column: str | None) -> None:
    """Show which dataset files the data folder holds and whether they verify,
    or what nnlab reads from your own FILE (.npz or .csv): its parts, example shape and classes.
    """
    from rich.console import Console
    from rich.table import Table

    if file is not None:
        _file_info(file, label_column)
        return

    from nnlab.data.datasets import default_data_dir, load_dataset
    from nnlab.data.fetch import inspect_idx
    from nnlab.data.mnist import MINI_PATH, PICKLE_NAME, find_idx, find_mnist, idx_target
    from nnlab.data.sources import SOURCES
    from nnlab.errors import UserError

    data_dir = (data_dir or default_data_dir()).expanduser()
    idx_folder = idx_target(data_dir)  # the folder `nnlab data fetch mnist --dir DIR` fills
    table = Table("dataset", "file", "status", "size")
    for st in inspect_idx(idx_folder):
        status = "verified" if st.problem is None else ("missing" if st.path is None else f"BAD: {st.problem}")
        table.add_row("mnist (IDX)", st.name, status, f"{st.size:,}" if st.path else "")
    pickle = data_dir / PICKLE_NAME
    table.add_row(
        "mnist (pickle)",
        PICKLE_NAME,
        "present" if pickle.is_file() else "missing",
        f"{pickle.stat().st_size:,}" if pickle.is_file() else "",
    )
    mini = load_dataset("mnist-mini")
    table.add_row(
        "mnist-mini",
        MINI_PATH.name,
        f"embedded: {len(mini.train)} train, {len(mini.validation)} validation, {len(mini.test)} test",
        f"{MINI_PATH.stat().st_size:,}",
    )
    fashion = SOURCES["fashion-mnist"]
    for st in inspect_idx(idx_target(data_dir, fashion), fashion):
        status = "verified" if st.problem is None else ("missing" if st.path is None else f"BAD: {st.problem}")
        table.add_row("fashion-mnist", st.name, status, f"{st.size:,}" if st.path else "")
    click.echo(f"data folder: {data_dir}  (IDX files looked for in {idx_folder})")
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    try:
        click.echo(f"dataset 'mnist' loads from {find_mnist(data_dir)}")
    except UserError as err:
        click.echo(f"dataset 'mnist' is not available: {err}")
    try:
        click.echo(f"dataset 'fashion-mnist' loads from {find_idx(data_dir, fashion)}")
    except UserError:
        click.echo("dataset 'fashion-mnist' is not available: run `nnlab data fetch fashion-mnist` to get it")


def _file_info(file: Path, label_column: str | None) -> None:
    """What data.dataset npz/csv would read from ``file`` (checked as a run checks it)."""
    import numpy as np

    from nnlab.config.schema import file_dataset
    from nnlab.data.datasets import load_dataset
    from nnlab.errors import UserError

    kind = file_dataset(file)
    if kind is None:
        raise UserError(f"{file}: own data is a .npz or .csv file")
    ds = load_dataset(kind, data_dir=file, options={"label_column": label_column})
    X = ds.train.X
    shape = f"an image {list(ds.image)} (channels, height, width)" if ds.image else f"a vector of {X.shape[1]}"
    values = "uint8 pixels, divided by data.pixel_scale" if X.dtype == np.uint8 else "numbers used as they are"
    click.echo(f"{file}: data.dataset {kind}, {ds.source}")
    click.echo(f"  parts: {len(ds.train)} train, {len(ds.validation)} validation, {len(ds.test)} test examples")
    click.echo(f"  one example: {shape} ({X.shape[1]} inputs); values: {values}")
    counts = np.bincount(ds.train.y, minlength=ds.n_classes)
    click.echo(f"  classes: {ds.n_classes} (training examples per class: {', '.join(map(str, counts))})")
    click.echo(f"  a dense net for it: model.sizes: [{X.shape[1]}, ..., {ds.n_classes}]")
