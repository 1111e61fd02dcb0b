"""`nnlab sweep`: thin wrapper over nnlab.sweep."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from nnlab.cli.common import JOBS_HELP, parse_jobs, tensorboard_option, user_errors


class SweepProgress:
    """One progress bar for the whole sweep (members done / total, failures, time left); plain lines off a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.rich = sys.stdout.isatty() and not quiet
        self.quiet = quiet
        self._p = None
        self.failures = 0
        self.interrupted = 0

    def start(self, total: int, already: int) -> None:
        self.total, self.count, self.t0 = total, already, time.perf_counter()
        if already and not self.quiet:
            from nnlab.text import plural

            click.echo(
                ("the sweep's only member" if total == 1 else f"all {total} members")
                + " already completed; nothing to run"
                if already == total
                else f"{already} of {plural(total, 'member')} already completed; running the other {total - already}"
            )
        if self.rich:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._p = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._task = self._p.add_task("sweep", total=total, completed=already, info="")
            self._p.start()

    def _info(self) -> str:
        parts = [f"{self.failures} failed"] if self.failures else []
        if self.interrupted:
            parts.append(f"{self.interrupted} interrupted")
        return ", ".join(parts)

    def advance(self, mid: str, record: dict) -> None:
        self.count += 1
        if record["status"] == "interrupted":
            self.interrupted += 1
        elif record["status"] != "completed":
            self.failures += 1
        info = self._info()
        if self._p is not None:
            self._p.update(self._task, completed=self.count, info=info)
            if record["status"] != "completed":
                self._p.console.print(f"{mid}: {record['status']}: {record.get('error')}")
        elif not self.quiet:
            s = record.get("summary") or {}
            best = (s.get("best") or {}).get("validation_accuracy")
            acc = f" best validation {100 * best:.2f}%" if best is not None else ""
            err = f": {record.get('error')}" if record["status"] != "completed" else ""
            click.echo(
                f"[{self.count}/{self.total}] {mid} {record['status']}{acc}{err}"
                f" ({time.perf_counter() - self.t0:.0f} s)"
            )

    def stopping(self, running: int) -> None:
        """Ctrl-C: say so at once (the bar stays live while the running members record themselves)."""
        what = f"waiting for {running} running member(s) to stop at their next step" if running else "stopping"
        line = f"interrupted: no new member starts; {what}"
        if self._p is not None:
            self._p.update(self._task, info=", ".join(filter(None, [self._info(), "stopping"])))
            self._p.console.print(line)
        elif not self.quiet:
            click.echo(line, err=True)

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None


@click.command()
@click.argument("sweep", required=False)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a key in every member (repeatable)."
)
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Add a grid axis: key.path=v1,v2. Values are YAML; separate with ';' when they contain commas: "
    "--grid 'model.sizes=[784,30,10];[784,30,30,10]'.",
)
@click.option(
    "--seeds",
    metavar="N|S1,S2,...",
    help="Run seeds 0..N-1, or the seeds listed (--seeds 3,4); replaces the file's seeds.",
)
@click.option(
    "-j",
    "--jobs",
    metavar="N|auto",
    default=None,
    help=JOBS_HELP,
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default=None,
    help="Local worker processes (the default) or an existing Dask cluster (--scheduler).",
)
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address (implies --executor dask).")
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False),
    help="Sweeps go to RUNS_DIR/sweeps/ (default: runs; a temporary folder with --smoke).",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    metavar="SWEEP_DIR",
    help="Run only the members of SWEEP_DIR not completed.",
)
@click.option(
    "--smoke",
    is_flag=True,
    help="Every member shrunk as nnlab train --smoke shrinks a run: the embedded data (mnist-mini, whatever"
    " data.dataset names; nothing to download), a few hundred examples, one epoch; the sweep in a temporary folder.",
)
@click.option("--dry-run", is_flag=True, help="List the members (all validated) and exit.")
@click.option("--no-plots", is_flag=True, help="Skip the comparison figures.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final table and failures.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 5 when every member completed but some have diagnosis findings (as output.strict: true).",
)
@tensorboard_option
@user_errors
def sweep(
    sweep,
    sets,
    grids,
    seeds,
    jobs,
    executor,
    scheduler,
    runs_dir,
    resume,
    smoke,
    dry_run,
    no_plots,
    quiet,
    strict,
    tensorboard,
):
    """Run a family of configs: a sweep file or a shipped sweep's name.

    SWEEP is a sweep file or the name of a sweep shipped with nnlab (e.g. depth;
    nnlab configs lists them); a path to an existing file wins over a name.

    \b
    Examples:
      nnlab sweep depth --set training.epochs=1 --set data.dataset=mnist-mini
      nnlab sweep depth --jobs 2
      nnlab sweep depth --executor dask --scheduler tcp://127.0.0.1:8786
      nnlab sweep --resume runs/sweeps/20261123-010000-depth
      nnlab sweep my-sweep.yaml --grid training.batch_size=10,50 --seeds 3
      nnlab sweep depth --seeds 5,6,7              (three more seeds for an earlier --seeds 5)
    Exit codes: 0 all completed, 1 some member failed, 2 bad input, 130 interrupted,
    5 all completed but some with diagnosis findings under --strict (or output.strict: true).
    """
    from nnlab.errors import UserError
    from nnlab.sweep import run as runner
    from nnlab.sweep.expand import check_data, check_memory, check_packages, expand, shadowed_keys
    from nnlab.sweep.spec import load_spec
    from nnlab.text import plural

    jobs = parse_jobs(jobs)
    executor = executor or ("dask" if scheduler else "local")
    if executor == "dask":  # checked before any sweep folder is made
        if not scheduler:
            raise UserError("--executor dask needs --scheduler tcp://HOST:PORT")
        from nnlab.sweep.execute import require_dask

        require_dask()
    elif scheduler:
        raise UserError(f"--scheduler {scheduler}: only with --executor dask")
    if resume:
        if sweep or sets or grids or seeds or smoke or tensorboard:
            raise UserError(
                "--resume SWEEP_DIR takes no SWEEP, --set, --grid, --seeds, --tensorboard or --smoke:"
                " the sweep keeps its members"
            )
        _, spec, members = runner.reopen(Path(resume))
        sweep_dir = Path(resume)
        if executor == "local":
            check_data(spec, members)
            check_memory(spec, members, min(jobs, len(members)))
    else:
        if tensorboard:
            sets = (*sets, "output.tensorboard=true")
        spec = load_spec(sweep, sets=sets, grid_args=grids, seeds=seeds)
        if smoke:
            _smoke(spec, quiet or dry_run)
        members = expand(spec)
        for key, value in shadowed_keys(spec).items():
            click.echo(
                f"note: {key} is set to {value!r} in every member (--set and the file's set: list have the "
                f"last word over its grid and override values)",
                err=True,
            )
        if dry_run:
            for m in members:
                click.echo(f"{m.id}  seed {m.seed}  " + "  ".join(m.overrides))
            click.echo(f"{plural(len(members), 'member')}, {'valid' if len(members) == 1 else 'all valid'}")
            try:
                check_data(spec, members)
                check_memory(spec, members, min(jobs, len(members)))
            except UserError as err:
                for line in err.lines:
                    click.echo(f"note: a local run would stop here: {line}", err=True)
            return
        if executor == "local":  # a missing dataset or too little memory: refused before the sweep folder is made
            check_data(spec, members)
            check_packages(spec, members)
            check_memory(spec, members, min(jobs, len(members)))
        if smoke and runs_dir is None:
            from nnlab.io import make_temp_dir

            runs_dir = str(make_temp_dir("nnlab-smoke-"))
        sweep_dir = runner.start(spec, members, Path(runs_dir or "runs"))
    if not quiet:
        where = f"dask at {scheduler}" if executor == "dask" else plural(min(jobs, len(members)), "job")
        click.echo(f"sweep {spec.name}: {plural(len(members), 'member')}, {where} -> {sweep_dir}")
    from nnlab.cli.train_cmd import sigterm_as_ctrl_c

    with sigterm_as_ctrl_c():  # `kill PID` (a CI timeout) stops the sweep as Ctrl-C does
        result = runner.run(
            spec,
            members,
            sweep_dir,
            executor=executor,
            jobs=jobs,
            scheduler=scheduler,
            progress=SweepProgress(quiet),
            resume=bool(resume),
        )
    _show(result, sweep_dir, spec.name, quiet)
    if not no_plots and not result.interrupted:
        _plots(result.selection.sweeps[0], sweep_dir, quiet)
    for m, rec in result.failures:
        click.echo(
            f"failed: {m.id} (seed {m.seed}, {' '.join(m.overrides)}): {rec['status']}: {rec.get('error')}", err=True
        )
    if result.interrupted:
        stopped, waiting = result.with_status("interrupted"), result.with_status("pending", "running")
        if stopped:
            click.echo(f"interrupted: {', '.join(m.id for m in stopped)} (stopped mid-run)", err=True)
        if waiting:
            click.echo(f"not started: {', '.join(m.id for m in waiting)}", err=True)
        click.echo(f"interrupted: finished members kept; continue with nnlab sweep --resume {sweep_dir}", err=True)
    sys.exit(_strict_exit(result, sweep_dir, strict))


def _strict_exit(result, sweep_dir: Path, strict: bool) -> int:
    """The sweep's exit code; 5 (STRICT_EXIT_CODE) when all completed, some with findings, and strict was asked
    (--strict, or output.strict in those members' config)."""
    if result.exit_code != 0:
        return result.exit_code
    from nnlab.diagnosis import STRICT_EXIT_CODE
    from nnlab.sweep.aggregate import members_with_findings

    found = [
        (m, rules)
        for m, rules, own in members_with_findings(sweep_dir, result.members, result.records)
        if strict or own
    ]
    if not found:
        return 0
    said = ", ".join(f"{m.id} ({', '.join(r.replace('_', ' ') for r in rules)})" for m, rules in found)
    click.echo(f"strict: {len(found)} member(s) with diagnosis findings: {said}; exit {STRICT_EXIT_CODE}", err=True)
    return STRICT_EXIT_CODE


def _smoke(spec, quiet: bool) -> None:
    """Add to every member the settings of a smoke run (the base config's, its batch size apart:
    a grid may vary it); a member the embedded data does not fit is refused when members are checked."""
    from nnlab.config import load_config
    from nnlab.smoke import smoke_note, smoke_overrides

    base = load_config(spec.base, spec.sets, base_name=spec.name)
    extra = [s for s in smoke_overrides(base, spec.label) if not s.startswith("training.batch_size=")]
    spec.sets = spec.sets + extra
    spec.set_labels.update({s: "--smoke" for s in extra})
    if not quiet:
        click.echo(smoke_note(base), err=True)


def _show(result, sweep_dir: Path, name: str, quiet: bool) -> None:
    from nnlab.sweep import aggregate

    title = f"sweep {name}: mean ± std over seeds, ‖δ‖ at initialization ({result.wall:.1f} s)"
    if sys.stdout.isatty():
        from rich.console import Console

        console = Console()
        for table in aggregate.rich_tables(result.table, title, console.width):
            console.print(table)
    else:
        from nnlab.tables import to_text

        click.echo(title)
        if result.table is not None:
            click.echo(to_text(result.table))
    click.echo(f"results: {sweep_dir / 'results.csv'}  {sweep_dir / 'summary.md'}")


def _plots(sweep, sweep_dir: Path, quiet: bool) -> None:
    from nnlab.errors import UserError

    try:
        from nnlab.plotting import plot_comparison
    except ImportError as err:  # the plotting side is optional to a sweep
        click.echo(f"note: no comparison figures ({err})", err=True)
        return
    try:
        paths, notes = plot_comparison(sweep, sweep_dir / "plots")
    except UserError as err:
        click.echo(f"note: no comparison figures: {'; '.join(err.lines)}", err=True)
        return
    for p in paths:
        click.echo(str(p))
    for n in notes:
        click.echo(f"note: {n}", err=True)
