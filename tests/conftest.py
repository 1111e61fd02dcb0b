"""Shared fixtures.

Full MNIST is not in the repository. Tests that need it (marked ``mnist``) look for a folder
holding ``mnist-idx/`` (the four IDX .gz files) and ``mnist.pkl.gz``: ``$NNLAB_SHARED_DATA``, else
``shared/data`` beside the checkout (where the project's machines keep it); they are skipped
when it is absent.
"""

from __future__ import annotations

import os

# The tests compare runs made in this process with runs of the `nnlab` command,
# which uses one BLAS thread (nnlab.cli.main.limit_blas_threads): a sum split
# over two threads can differ in its last bit, so use one here too. Must be set
# before NumPy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("NNLAB_BLAS_THREADS", "1"))
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder holding mnist-idx/ and mnist.pkl.gz; skips the test when absent."""
    env = os.environ.get("NNLAB_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "mnist-idx").is_dir():
        pytest.skip(f"full MNIST not found in {path} (set NNLAB_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def mnist_idx_dir(shared_data_dir: Path) -> Path:
    """The four official IDX .gz files."""
    return shared_data_dir / "mnist-idx"
