"""Time ONE training epoch of nnlab's own loop (``nnlab.training.train``) on MNIST-shaped data.

    python bench/bench_epoch.py [--repeats N] [--workloads W1,W2,W3] [--dtype float32] [--threads N]

Workloads (issue 2, item 5), 50,000 random MNIST-shaped samples (uint8-like
pixels scaled to [0, 1], labels 0..9, from a seeded numpy Generator):

- W1 [784,30,30,30,30,10] sigmoid, cross-entropy on sigmoid outputs, SGD
  η 0.1, batch 10, L2 λ 5 (Nielsen's: l2 = λ/n);
- W2 [784,2048,1024,512,256,10] ReLU, softmax + log-likelihood, Adam 1e-3, batch 128;
- W3 [784,100,100,100,10] ReLU, softmax + log-likelihood, momentum 0.9 (η 0.01), batch 64.

Each repeat trains one epoch of a freshly built network (no evaluation, no
hooks; the build is outside the timed region). Prints median and spread
(min-max) per workload, the machine's measured sgemm rate and the FLOP bound
it implies for W2. Targets (float32, 2 cores): W1 <= 0.40 s, W3 <= 0.30 s,
W2 within 1.5x of its FLOP bound.

``--threads N`` fixes the BLAS thread count (OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, MKL_NUM_THREADS, set before NumPy loads); without it the
library default applies (one thread per core). On a shared 2-core machine
OpenBLAS's second thread can make the small matrix products of W1/W3 many
times slower, so compare ``--threads 1`` and the default.

Timings are noisy on a shared machine: use the medians. This is not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _threads_from_argv(argv: list[str]) -> str | None:
    """``--threads N`` must take effect before NumPy (and its BLAS) is imported."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


if __name__ == "__main__" and (_n := _threads_from_argv(sys.argv[1:])) is not None:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from nnlab.activations import make_activation  # noqa: E402
from nnlab.costs import make_cost  # noqa: E402
from nnlab.initializers import INITIALIZERS  # noqa: E402
from nnlab.network import Dense, Network  # noqa: E402
from nnlab.optimizers import make_optimizer  # noqa: E402
from nnlab.training import train  # noqa: E402

N_TRAIN = 50_000

WORKLOADS = {
    "W1": dict(
        sizes=[784, 30, 30, 30, 30, 10],
        hidden="sigmoid",
        output="sigmoid",
        cost="cross_entropy",
        init=("nielsen", "standard_normal"),
        optimizer=("sgd", dict(learning_rate=0.1)),
        batch=10,
        lmbda=5.0,
        target="<= 0.40 s",
    ),
    "W2": dict(
        sizes=[784, 2048, 1024, 512, 256, 10],
        hidden="relu",
        output="softmax",
        cost="log_likelihood",
        init=("he", "zeros"),
        optimizer=("adam", dict(learning_rate=1e-3)),
        batch=128,
        lmbda=0.0,
        target="<= 1.5x FLOP bound",
    ),
    "W3": dict(
        sizes=[784, 100, 100, 100, 10],
        hidden="relu",
        output="softmax",
        cost="log_likelihood",
        init=("he", "zeros"),
        optimizer=("momentum", dict(learning_rate=0.01, momentum=0.9)),
        batch=64,
        lmbda=0.0,
        target="<= 0.30 s",
    ),
}
DEFAULT_REPEATS = {"W1": 5, "W2": 3, "W3": 5}
TARGET_SECONDS = {"W1": 0.40, "W3": 0.30}


def mnist_like(n: int, dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
    return np.divide(pixels, 255, dtype=dtype), rng.integers(0, 10, size=n)


def build(spec: dict, dtype, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    w_init, b_init = (INITIALIZERS.get(name) for name in spec["init"])
    sizes = spec["sizes"]
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        act = make_activation(spec["output"] if l == len(sizes) - 1 else spec["hidden"])
        W = w_init(rng, (n_in, n_out), n_in, n_out).astype(dtype)
        b = b_init(rng, (n_out,), n_in, n_out).astype(dtype)
        layers.append(Dense(W, b, act))
    l2 = spec["lmbda"] / N_TRAIN if spec["lmbda"] else 0.0
    return Network(layers, make_cost(spec["cost"]), l2=l2)


def time_epoch(spec: dict, X: np.ndarray, y: np.ndarray, dtype, seed: int) -> float:
    net = build(spec, dtype)
    name, hp = spec["optimizer"]
    opt = make_optimizer(name, **hp)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    train(net, opt, X, y, epochs=1, batch_size=spec["batch"], rng=rng)
    return time.perf_counter() - t0


def train_flops(sizes: list[int], n: int) -> float:
    """FLOPs of the matrix products in one epoch over n examples.

    Per layer l (n_in -> n_out), over the whole epoch (m summed over batches = n):
      forward   z = a_prev W           2·n·n_in·n_out
      backward  ∂C/∂W = a_prevᵀ δ      2·n·n_in·n_out
                ∂C/∂a_prev = δ Wᵀ      2·n·n_in·n_out, except layer 1 (∂C/∂a^0 is never formed)
    total = 6·n·Σ_l n_in·n_out - 2·n·n_0·n_1.
    Elementwise work (activations, biases, the optimizer) is not counted: the bound is the matmuls alone.
    """
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return 6.0 * n * sum(a * b for a, b in pairs) - 2.0 * n * pairs[0][0] * pairs[0][1]


def sgemm_rate(dtype, size: int = 2048, repeats: int = 7) -> tuple[float, float]:
    """(median, best) GFLOP/s of an n×n @ n×n matmul in ``dtype`` (2n³ FLOPs each)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size)).astype(dtype)
    B = rng.standard_normal((size, size)).astype(dtype)
    C = np.empty((size, size), dtype=dtype)
    np.dot(A, B, out=C)  # warm up the BLAS threads
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.dot(A, B, out=C)
        rates.append(2.0 * size**3 / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates), max(rates)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=None, help="repeats per workload (default 5 for W1/W3, 3 for W2)")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's own choice)")
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    for w in names:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}; choose from {','.join(WORKLOADS)}")

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "library default")
    print(
        f"nnlab one-epoch benchmark: {N_TRAIN} samples, {dtype}, numpy {np.__version__}, "
        f"{os.cpu_count()} cpus, BLAS threads: {blas} (timings: median of repeats; the machine may be shared)"
    )
    gf_med, gf_best = sgemm_rate(dtype)
    print(f"matmul rate ({dtype}, 2048x2048 @ 2048x2048): median {gf_med:.1f} GFLOP/s, best {gf_best:.1f}", flush=True)
    X, y = mnist_like(N_TRAIN, dtype)

    for w in names:
        spec = WORKLOADS[w]
        repeats = args.repeats or DEFAULT_REPEATS[w]
        times = [time_epoch(spec, X, y, dtype, seed=r) for r in range(repeats)]
        med = statistics.median(times)
        line = (
            f"{w} {spec['sizes']} {spec['hidden']}, batch {spec['batch']}, {spec['optimizer'][0]}: "
            f"median {med:.3f} s/epoch (min {min(times):.3f}, max {max(times):.3f}, n={repeats})"
        )
        if w in TARGET_SECONDS:
            t = TARGET_SECONDS[w]
            line += f"  target <= {t:.2f} s: {'met' if med <= t else 'NOT met'}"
        print(line, flush=True)
        flops = train_flops(spec["sizes"], N_TRAIN)
        bound = flops / (gf_med * 1e9)
        ratio = med / bound
        note = f"  target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}" if w == "W2" else ""
        print(
            f"   {w} matmul FLOPs/epoch {flops / 1e9:.1f} GFLOP -> FLOP bound {bound:.3f} s at {gf_med:.1f} GFLOP/s; "
            f"ratio {ratio:.2f}x{note}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
