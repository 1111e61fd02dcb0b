"""Helpers shared by the command modules: turning user errors into exit code 2."""

from __future__ import annotations

import functools
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
