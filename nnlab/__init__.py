"""nnlab: a transparent, fast NumPy engine for studying how deep networks learn.

For notebooks: ``nnlab.load_run(path)`` and ``nnlab.load_sweep(path)`` read a
run or sweep directory (``nnlab.results``), with pandas views
(``run.metrics_df``, ``run.gradients_df``, ``run.epochs_df``,
``sweep.members_df``, ...); ``nnlab.select(paths)`` reads several runs as
``nnlab plot`` and ``nnlab report`` do (each with what tells it apart);
``nnlab.plotting.figure(name, run_or_selection)`` draws one of ``nnlab plot``'s
figures as a matplotlib Figure.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_run", "load_sweep", "select"]


def __getattr__(name: str) -> Any:
    # imported on first use: `import nnlab` (and so `nnlab --help`) stays light
    if name in ("load_run", "load_sweep", "select"):
        from nnlab import results

        return getattr(results, name)
    if name in ("plotting", "results", "frames"):  # nnlab.plotting.figure(...) after a bare `import nnlab`
        import importlib

        return importlib.import_module(f"nnlab.{name}")
    raise AttributeError(f"module 'nnlab' has no attribute {name!r}")
