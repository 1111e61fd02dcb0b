"""Errors a user can fix (bad config, missing data, bad path).

The CLI prints a ``UserError`` as one line per problem and exits with code 2,
never with a traceback. Library code raises it for anything that is the
caller's input rather than a bug in nnlab.
"""

from __future__ import annotations

_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


class UserError(Exception):
    """A problem in the user's input: one or more one-line messages."""

    exit_code = 2

    def __init__(self, *lines: str) -> None:
        # one line per problem, whatever the input held: control characters (a newline
        # in a --set string, an escape sequence in a config value) are shown escaped
        self.lines = [line.translate(_ESCAPES) for line in lines if line]
        super().__init__("\n".join(self.lines))


class SourceUnreachable(UserError):
    """No source delivered the data (no network, every mirror down, refusing, timing out or serving
    files that fail their checksum): exit code 4, so a script can tell "try again later" from bad input."""

    exit_code = 4


class DivergedError(Exception):
    """Training produced NaN or inf; carries where it happened."""

    def __init__(self, message: str, epoch: int, layer: str | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.layer = layer
