"""The one reader of run directories and sweep directories (format 1).

The contract is docs/run-directory.md. ``nnlab plot``, ``nnlab report``,
``nnlab sweep``, ``nnlab train --resume``, the diagnosis and the notebook API
read runs only through this package; nothing here trains,
recomputes or unpickles anything (CSV, JSON and YAML; the few ``.npz`` arrays
with pickles refused).

    run = load_run("runs/20261123-004330-quickstart")
    run.metrics["validation_accuracy"]            # float array, one per epoch row
    epochs, steps, values = run.gradients["delta_norm"][1]   # layer 1
    run.summary["best"]["epoch"]                   # None while a run is unfinished
    keys, groups = group(select(["runs/a", "runs/b"]))   # what differs, and the runs per configuration

``run`` holds ``Run`` and the readers of a run's files, ``sweep`` ``Sweep``,
``Selection`` and the one grouping, ``keys`` what tells runs apart.

Missing optional files (an instrument switched off: no or empty
``gradients.csv``/``activations.csv``; no ``summary.json`` while a run is
still going) give empty tables or ``None``, never an error. A folder that is
not a run directory, or one of an unknown format, is a ``UserError``.
"""

from __future__ import annotations

from nnlab.results.keys import (
    IDENTITY_KEYS,
    config_value,
    describing_keys,
    differing_keys,
    flatten,
    format_value,
    mean_std,
    point_label,
    points,
)
from nnlab.results.run import (
    DIAGNOSIS_FILE,
    EVALUATION_FILE,
    MISTAKES_FILE,
    SWEEP_FORMAT,
    LongTable,
    Run,
    Series,
    is_run_dir,
    is_sweep_dir,
    layer_label,
    layers_label,
    load_run,
    not_a_run,
    read_findings,
    read_long,
    read_metric_rows,
    read_metrics,
    read_summary,
    run_status,
)
from nnlab.results.sweep import (
    Group,
    Member,
    Selection,
    Sweep,
    find_runs,
    group,
    load_sweep,
    read_sweep_json,
    select,
)

__all__ = [
    "DIAGNOSIS_FILE",
    "EVALUATION_FILE",
    "Group",
    "IDENTITY_KEYS",
    "LongTable",
    "MISTAKES_FILE",
    "Member",
    "Run",
    "SWEEP_FORMAT",
    "Selection",
    "Series",
    "Sweep",
    "config_value",
    "describing_keys",
    "differing_keys",
    "find_runs",
    "flatten",
    "format_value",
    "group",
    "is_run_dir",
    "is_sweep_dir",
    "layer_label",
    "layers_label",
    "load_run",
    "load_sweep",
    "mean_std",
    "not_a_run",
    "point_label",
    "points",
    "read_findings",
    "read_long",
    "read_metric_rows",
    "read_metrics",
    "read_summary",
    "read_sweep_json",
    "run_status",
    "select",
]
