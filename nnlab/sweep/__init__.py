"""``nnlab sweep``: a family of configs (grid x override sets x seeds), run locally or on Dask.

    spec = load_spec("depth")                         # configs/sweeps/depth.yaml
    members = expand(spec)                            # validated before anything runs
    sweep_dir = run_sweep(spec, members, jobs=2)      # runs/sweeps/<stamp>-depth/

Modules: ``spec`` (the sweep file), ``execute`` (local processes, Dask),
``aggregate`` (results.csv, summary.md, the table, the figures).
"""

from nnlab.sweep.spec import Member, SweepSpec, expand, load_spec

__all__ = ["Member", "SweepSpec", "expand", "load_spec"]
