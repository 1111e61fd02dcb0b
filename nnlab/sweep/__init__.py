"""``nnlab sweep``: a family of configs (grid x override sets x seeds), run locally or on Dask.

    from nnlab.sweep import run
    from nnlab.sweep.expand import expand
    from nnlab.sweep.spec import load_spec

    spec = load_spec("depth")                         # the shipped nnlab/configs/sweeps/depth.yaml
    members = expand(spec)                            # every member validated before anything runs
    sweep_dir = run.start(spec, members, Path("runs"))        # runs/sweeps/<stamp>-depth/
    result = run.run(spec, members, sweep_dir, jobs=2)        # result.exit_code: 0, 1 or 130

Modules: ``spec`` (the sweep file), ``expand`` (members), ``execute`` (local
processes, Dask), ``aggregate`` (results.csv, summary.md, the table), ``run``
(the sweep directory: create, resume, run, aggregate).
"""

from nnlab.sweep.expand import Member
from nnlab.sweep.spec import SweepSpec, load_spec

__all__ = ["Member", "SweepSpec", "load_spec"]
