"""Entry point: the ``nnlab`` click group.

Commands are imported lazily so that ``nnlab --help`` and ``nnlab --version``
stay fast (no NumPy-heavy or matplotlib import at start-up).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from nnlab import __version__
from nnlab.cli.common import SuggestingGroup

# command name -> "module:attribute"
COMMANDS = {
    "train": "nnlab.cli.train_cmd:train",
    "configs": "nnlab.cli.configs_cmd:configs",
    "validate": "nnlab.cli.train_cmd:validate",
    "data": "nnlab.cli.data_cmd:data",
    "evaluate": "nnlab.cli.evaluate_cmd:evaluate",
    "plot": "nnlab.cli.plot_cmd:plot",
    "report": "nnlab.cli.report_cmd:report",
    "sweep": "nnlab.cli.sweep_cmd:sweep",
}


class LazyGroup(SuggestingGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nnlab")
def cli() -> None:
    """nnlab: train deep networks (fully-connected and convolutional) and watch how each layer learns."""


BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads() -> None:
    """One BLAS thread unless the user says otherwise ($NNLAB_BLAS_THREADS or the BLAS's own variables).

    nnlab's networks multiply small matrices (mini-batches of 10 to 128), where
    a second BLAS thread gains nothing and, on a shared machine, costs up to
    20x (bench/README.md). Must run before NumPy is imported.
    """
    n = os.environ.get("NNLAB_BLAS_THREADS", "1")
    for var in BLAS_VARS:
        os.environ.setdefault(var, n)


def main() -> None:
    from nnlab.errors import UserError

    limit_blas_threads()

    try:
        cli(standalone_mode=True)
    except UserError as err:  # raised outside a command's own handler
        for line in err.lines:
            click.echo(f"error: {line}", err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
