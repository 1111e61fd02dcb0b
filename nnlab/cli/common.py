"""Helpers shared by the command modules: user errors as exit code 2, --jobs, command-name suggestions."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from nnlab.errors import UserError


class SuggestingGroup(click.Group):
    """A group that answers a mistyped command with the closest one: ``No such command 'trian'. Did you mean 'train'?``

    (Click >= 8.4 does this only for commands registered on the group, not for lazily imported ones.)
    """

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = click.utils.make_str(args[0]) if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            import difflib

            match = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            raise click.UsageError(
                f"No such command {name!r}." + (f" Did you mean {match[0]!r}?" if match else ""), ctx
            )
        return super().resolve_command(ctx, args)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body; print a ``UserError`` as ``error: ...`` lines and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            for line in err.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(err.exit_code)

    return wrapper


def tensorboard_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--tensorboard``, the same flag on every command that trains: output.tensorboard: true."""
    return click.option(
        "--tensorboard",
        is_flag=True,
        help="Also write TensorBoard event files into each run directory (output.tensorboard: true; needs"
        ' pip install "nnlab[tensorboard]").',
    )(fn)


JOBS_HELP = "Worker processes: a whole number >= 1 (1 runs in-process), or auto for one per core (the default)."


def parse_jobs(value: str | None, option: str = "--jobs") -> int:
    """``--jobs`` as given: a whole number >= 1, or ``auto`` (or not given) for one per core."""
    if value is None or value.strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        jobs = int(value)
    except ValueError:
        jobs = None
    if jobs is None or jobs < 1:
        raise UserError(
            f"{option} {value}: not a whole number >= 1; give the number of worker processes, or auto for one per core"
        )
    return jobs
