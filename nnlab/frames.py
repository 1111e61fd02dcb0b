"""pandas views of runs and sweeps, for notebooks: ``nnlab.load_run(path).metrics_df`` and the like.

Built from what ``nnlab.results`` read (the one reader of run directories),
never by parsing the files again. The tidy long form has one row per
measurement; the wide per-epoch view one row per epoch.

    run = nnlab.load_run("runs/20261203-051236-quickstart")
    run.metrics_df        # epoch, step, seconds, train_loss, ..., lr: one row per epoch (metrics.csv)
    run.gradients_df      # step, epoch, layer, label, quantity, value (gradients.csv, tidy)
    run.activations_df    # the same columns (activations.csv)
    run.epochs_df         # one row per epoch: the metrics, then "<quantity>/<label>" at each epoch's end

    sweep = nnlab.load_sweep("runs/sweeps/20261203-050622-r6")
    sweep.members_df      # one row per finished member: id, seed, the swept keys, status, results
    sweep.metrics_df      # every member's metrics rows, with member, seed and the swept keys in front
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported when a frame is asked for
    import pandas as pd

    from nnlab.results import Run, Selection, Sweep

LONG = ["step", "epoch", "layer", "label", "quantity", "value"]
RESULTS = [
    ("final", "epoch"),
    ("final", "validation_accuracy"),
    ("final", "test_accuracy"),
    ("best", "epoch"),
    ("best", "validation_accuracy"),
    ("best", "test_accuracy"),
]


def _pd():
    import pandas as pd

    return pd


def metrics(run: Run) -> pd.DataFrame:
    """metrics.csv: one row per epoch row, epoch and step as integers, empty cells NaN."""
    df = _pd().DataFrame({k: np.asarray(v) for k, v in run.metrics.items()})
    for column in ("epoch", "step"):
        if column in df and not df[column].isna().any():
            df[column] = df[column].astype(int)
    return df


def long(run: Run, table: str) -> pd.DataFrame:
    """gradients.csv or activations.csv in tidy form: one row per (step, layer, quantity)."""
    parts = []
    for quantity, layers in getattr(run, table).items():
        for layer, s in layers.items():
            n = len(s.values)
            parts.append(
                {
                    "step": s.steps,
                    "epoch": s.epochs,
                    "layer": np.full(n, layer),
                    "label": np.full(n, run.csv_label(layer), dtype=object),
                    "quantity": np.full(n, quantity, dtype=object),
                    "value": s.values,
                }
            )
    pd = _pd()
    if not parts:
        return pd.DataFrame({c: [] for c in LONG})
    df = pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)
    return df.sort_values(["step", "quantity", "layer"], kind="stable", ignore_index=True)


def per_epoch(run: Run) -> pd.DataFrame:
    """One row per epoch: the metrics, then ``<quantity>/<label>`` of both long tables at the epoch's last step."""
    df = metrics(run)
    if "epoch" in df:  # a resumed run's metrics have one row per epoch; keep the last if ever two
        df = df.drop_duplicates("epoch", keep="last").set_index("epoch")
    for table in ("gradients", "activations"):
        rows = long(run, table)
        if rows.empty:
            continue
        last = rows.sort_values("step", kind="stable").groupby(["epoch", "quantity", "layer"], sort=False).tail(1)
        last = last.assign(column=last["quantity"] + "/" + last["label"])
        wide = last.pivot(index="epoch", columns="column", values="value")
        order = last.drop_duplicates("column").sort_values(["quantity", "layer"])["column"]
        df = df.join(wide[list(order)], how="outer")
    return df


def sweep_members(sweep: Sweep | Selection) -> pd.DataFrame:
    """One row per finished member: id, seed, each swept key, status, final and best results, wall time, path.

    For a Selection of runs, the keys are what tells the runs apart; ``member`` is None for a run not in a sweep.
    """
    rows: list[dict[str, Any]] = []
    for m in sweep.members:
        row: dict[str, Any] = {"member": m.id, "seed": m.seed}
        row.update({key: _cell((m.point or {}).get(key)) for key in sweep.keys})
        row["status"] = m.run.status
        for part, column in RESULTS:
            row[f"{part}_{column}"] = m.run.epoch_of(part) if column == "epoch" else m.run.result(part, column)
        row["wall_seconds"] = m.run.wall_seconds
        row["path"] = str(m.run.path)
        rows.append(row)
    return _pd().DataFrame(rows)


def sweep_long(sweep: Sweep | Selection, what: str) -> pd.DataFrame:
    """Every member's ``metrics`` or long table (``gradients``, ``activations``), member, seed and keys in front."""
    pd = _pd()
    frames = []
    for m in sweep.members:
        df = metrics(m.run) if what == "metrics" else long(m.run, what)
        front = {"member": m.id, "seed": m.seed, **{key: _cell((m.point or {}).get(key)) for key in sweep.keys}}
        frames.append(pd.concat([pd.DataFrame({k: [v] * len(df) for k, v in front.items()}), df], axis=1))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _cell(value: Any) -> Any:
    """A swept value as a DataFrame cell: lists (model.sizes) as their short text, so columns group and sort."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value) if all(isinstance(v, int) for v in value) else str(value)
    if isinstance(value, dict):
        return str(value)
    return value
