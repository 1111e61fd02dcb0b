"""Helpers shared by the command modules: turning user errors into exit code 2."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from nnlab.errors import UserError


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
