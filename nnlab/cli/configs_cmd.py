"""`nnlab configs`: list the configs and sweeps shipped with nnlab, or copy them out to edit."""

from __future__ import annotations

import click

from nnlab.cli.common import user_errors


@click.command()
@click.option(
    "--copy",
    "copy_dir",
    metavar="DIR",
    help="Copy every shipped config and sweep into DIR (the same tree), to edit; existing files are kept.",
)
@click.option("--force", is_flag=True, help="With --copy: overwrite files that differ from the shipped ones.")
@user_errors
def configs(copy_dir, force):
    """List the shipped configs and sweeps, or copy them out to edit.

    Each is listed with its first comment line (a sweep: its description). Use them by name from any folder (nnlab train quickstart, nnlab train
    nielsen/r1, nnlab sweep depth, nnlab validate quickstart); a path to an
    existing file always wins over a name.
    """
    from nnlab import shipped
    from nnlab.errors import UserError

    if force and not copy_dir:
        raise UserError("--force only goes with --copy DIR")
    if copy_dir:
        _copy(shipped, copy_dir, force)
        return
    groups = [
        ("run configs: nnlab train NAME", shipped.configs()),
        ("sweeps: nnlab sweep NAME", shipped.sweeps()),
    ]
    width = max(len(s.name) for _, items in groups for s in items)
    click.echo(f"shipped with nnlab in {shipped.ROOT}")
    for title, items in groups:
        click.echo(f"\n{title}")
        for s in items:
            click.echo(f"  {s.name.ljust(width)}  {s.description()}".rstrip())
    click.echo("\nA path to an existing file wins over a name. To edit: nnlab configs --copy DIR")


def _copy(shipped, copy_dir: str, force: bool) -> None:
    done = shipped.copy_to(copy_dir, force=force)
    counts: dict[str, int] = {}
    for path, what in done:
        counts[what] = counts.get(what, 0) + 1
        if what in ("wrote", "overwrote"):
            click.echo(f"{what} {path}")
        elif what == "kept":
            click.echo(f"kept {path} (differs from the shipped file; --force overwrites it)")
    order = ("wrote", "overwrote", "unchanged", "kept")
    click.echo(f"{copy_dir}: " + ", ".join(f"{counts[w]} {w}" for w in order if counts.get(w)))
