"""`nnlab train` and `nnlab validate`: thin wrappers over nnlab.experiment."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

import click

from nnlab.cli.common import tensorboard_option, user_errors
from nnlab.errors import UserError


def resolve_config(config: str) -> tuple[Path, str]:
    """The run config file CONFIG names (an existing path wins over a shipped name) and its label;
    a sweep file is refused with the command that runs it."""
    from nnlab import shipped
    from nnlab.config import read_config_file
    from nnlab.sweep.spec import is_sweep

    path, label = shipped.resolve(config, "config")
    if is_sweep(read_config_file(path, label)):
        raise UserError(f"{label}: is a sweep file, not a run config; run it with nnlab sweep {config}")
    return path, label


def _load(config: str, overrides: list[str], smoke: bool, quiet: bool):
    from nnlab.config import load_config

    path, label = resolve_config(config)
    cfg = load_config(path, overrides, label=label)
    if smoke:
        from nnlab.smoke import smoke_note, smoke_overrides

        overrides = overrides + smoke_overrides(cfg, label)
        if not quiet:
            click.echo(smoke_note(cfg), err=True)
        cfg = load_config(path, overrides, label=label)
    return cfg, overrides, label


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a config key (repeatable), e.g. --set optimizer.learning_rate=0.5",
)
@click.option("--dry-run", is_flag=True, help="Print the resolved config (defaults and overrides applied) and exit.")
@click.option(
    "--smoke",
    is_flag=True,
    help="Run end to end in seconds on the embedded data (mnist-mini, whatever data.dataset names; nothing to"
    " download): a few hundred examples, one epoch, all instruments, output in a temporary folder.",
)
@click.option(
    "--resume",
    "resume",
    type=click.Path(file_okay=False),
    metavar="RUN_DIR",
    help="Continue an interrupted or killed run from its last checkpoint.",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False),
    help="Folder for the run directory (default: output.runs_dir of the config).",
)
@click.option("--name", help="Run name (default: the config's name).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and the run directory.")
@click.option("--plain", is_flag=True, help="Plain one-line-per-epoch output even on a terminal.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 5 when the run completes with diagnosis findings (for CI; the config key output.strict).",
)
@tensorboard_option
@user_errors
def train(config, overrides, dry_run, smoke, resume, runs_dir, name, quiet, plain, strict, tensorboard):
    """Train the network CONFIG declares and write a run directory.

    CONFIG is a YAML file, or the name of a config shipped with nnlab
    (quickstart, nielsen/r1, ...: nnlab configs lists them); a path to an
    existing file wins over a name.

    \b
    Exit codes: 0 completed, 2 bad input, 3 diverged, 1 failed, 130 interrupted,
    5 completed with diagnosis findings under --strict (or output.strict: true).
    """
    from nnlab.experiment import run_experiment

    overrides = list(overrides)
    if name:
        overrides.append(f"name={name}")
    if tensorboard:
        overrides.append("output.tensorboard=true")
    display = "quiet" if quiet else ("plain" if plain else "auto")
    if resume:
        if config or overrides or smoke:
            raise UserError(
                "--resume RUN_DIR takes no CONFIG, --set, --name, --tensorboard or --smoke: the run keeps its own config"
            )
        result = _run(lambda: run_experiment(None, resume=resume, display=display))
        sys.exit(_exit_code(result, strict))
    if not config:
        raise UserError(
            "missing CONFIG: give a YAML config file or a shipped config's name, e.g. nnlab train quickstart"
        )
    cfg, overrides, label = _load(config, overrides, smoke, quiet or dry_run)
    if dry_run:
        from nnlab.config import dump_config
        from nnlab.memory import allowed_memory, estimate_config

        click.echo(dump_config(cfg), nl=False)
        allowed = allowed_memory()
        room = f"; {allowed[1]}" if allowed else ""
        click.echo(f"# memory: the run needs {estimate_config(cfg).describe()}{room}")  # a YAML comment
        return
    if smoke and runs_dir is None:
        from nnlab.io import make_temp_dir

        runs_dir = str(make_temp_dir("nnlab-smoke-"))
    result = _run(
        lambda: run_experiment(cfg, overrides=overrides, config_file=label, runs_dir=runs_dir, display=display)
    )
    if quiet:
        click.echo(str(result.run_dir))
    if result.status != "completed":
        click.echo(f"error: {result.status}: {result.error}", err=True)
    sys.exit(_exit_code(result, strict))


def _exit_code(result, strict: bool) -> int:
    """The run's exit code; under ``--strict`` a completed run with findings gets STRICT_EXIT_CODE (5)."""
    if strict:
        import dataclasses

        result = dataclasses.replace(result, strict=True)
    if result.exit_code != 0 and result.status == "completed":
        click.echo(f"strict: {len(result.findings)} diagnosis finding(s); exit {result.exit_code}", err=True)
    return result.exit_code


def _as_ctrl_c(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """SIGTERM (``kill PID``, a CI timeout) raises ``KeyboardInterrupt`` in the block, as Ctrl-C does."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(fn):
    """Run ``fn``; Ctrl-C or SIGTERM (``kill PID``, a CI timeout) ends it as ``interrupted``, exit 130."""
    try:
        with sigterm_as_ctrl_c():
            return fn()
    except KeyboardInterrupt:
        click.echo("interrupted: history kept; continue with nnlab train --resume RUN_DIR", err=True)
        sys.exit(130)


@click.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE", help="Override a key in every config.")
@click.option("--data/--no-data", "check_data", default=False, help="Also check that each config's dataset is present.")
def validate(configs, overrides, check_data):
    """Check configs and sweeps without training: one line per problem.

    Each CONFIG is a file or the name of a shipped config or sweep. A sweep
    file (one with base, grid, overrides, seeds or set) is checked as a sweep:
    every member is expanded and validated. Exit 2 if any is bad.
    """
    bad = 0
    for arg in configs:
        try:
            what = _validate_one(arg, list(overrides), check_data)
        except UserError as err:
            bad += 1
            for line in err.lines:
                click.echo(f"error: {line}", err=True)
        else:
            click.echo(f"ok: {arg}{what}")
    if bad:
        sys.exit(2)


def _validate_one(arg: str, overrides: list[str], check_data: bool) -> str:
    """Validate one run config or sweep file; what to add to its ``ok:`` line."""
    from nnlab import shipped
    from nnlab.config import load_config, read_config_file
    from nnlab.sweep import spec as sweep_spec

    path, label = shipped.resolve(arg, "any")
    where = f"; {label}" if label != arg else ""
    data = read_config_file(path, label)
    if sweep_spec.is_sweep(data):
        from nnlab.sweep.expand import check_data as check_sweep_data
        from nnlab.sweep.expand import expand

        spec = sweep_spec.read_spec(path, label, data)
        spec.sets = spec.sets + overrides
        members = expand(spec)
        if check_data:
            check_sweep_data(spec, members)
        return f" (sweep of {len(members)} members{where})"
    cfg = load_config(path, overrides, label=label)
    if check_data:
        from nnlab.build import build_data

        build_data(cfg)
    return f" ({label})" if where else ""
