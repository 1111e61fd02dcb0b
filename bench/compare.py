"""One training epoch of W1 and W3 in nnlab, PyTorch (CPU) and scikit-learn, with 1 and 2 threads.

    /work/benchvenv/bin/python bench/compare.py [--repeats N] [--workloads W1,W3] [--threads 1,2]
                                                [--frameworks nnlab,torch,sklearn]

Run it from a separate virtual environment that has torch and scikit-learn
(the project's own environment stays free of them), e.g.

    python3 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /work/benchvenv/bin/pip install scikit-learn numpy && /work/benchvenv/bin/pip install -e .

A framework that is not installed is skipped with a note. Every run is the
same job: 50,000 random MNIST-shaped float32 samples (the data of
``bench_epoch.py``), one epoch of mini-batch training, reshuffled:

- W1 [784,30,30,30,30,10] sigmoid; sigmoid outputs with cross-entropy summed
  over the outputs, mean over the batch; plain SGD η 0.1, batch 10; L2 on
  weights only, λ = 5 over n = 50,000 (Nielsen's);
- W3 [784,100,100,100,10] ReLU; softmax with log-likelihood; momentum 0.9,
  η 0.01, batch 64; no L2.

How each framework is made to do exactly that:

- torch: ``nn.Sequential`` of Linear + activation; W1's loss is
  ``BCEWithLogitsLoss(reduction="sum") / m``, L2 is SGD ``weight_decay`` = λ/n on
  the weight parameter group only; W3 uses ``CrossEntropyLoss`` and
  ``SGD(momentum=0.9)`` (v ← 0.9v + g; θ ← θ - ηv, the same steps as nnlab's
  v ← 0.9v - ηg at a constant η). ``torch.set_num_threads``.
- sklearn: ``MLPClassifier(max_iter=1, solver="sgd", ...)``, fitted once on
  the whole set (the timing includes its weight initialisation, which is
  small). W1 is fitted on one-hot targets, which makes MLPClassifier use
  sigmoid outputs and the summed binary cross-entropy (Nielsen's cost); its
  L2 term is alpha/(2 m)·Σ||W||² per batch of m, so alpha = m·λ/n gives the
  same gradient. momentum 0 for W1, 0.9 without Nesterov for W3;
  ConvergenceWarning suppressed.
- nnlab: ``nnlab.training.train`` on the network ``bench_epoch.py`` builds.

BLAS/OpenMP threads are fixed per run through OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS (each run is a fresh subprocess, since
they are read when the libraries load). Timings are noisy on a shared machine:
the table shows the median of the repeats and the min-max spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_TRAIN = 50_000
LMBDA = 5.0
FRAMEWORKS = ("nnlab", "torch", "sklearn")
SPECS = {
    "W1": dict(sizes=[784, 30, 30, 30, 30, 10], batch=10, lr=0.1),
    "W3": dict(sizes=[784, 100, 100, 100, 10], batch=64, lr=0.01),
}


def data():
    sys.path.insert(0, str(HERE))
    import numpy as np
    from bench_epoch import mnist_like

    return mnist_like(N_TRAIN, np.float32)  # the same samples as bench_epoch.py


# -- one timed epoch per framework -------------------------------------------------


def epoch_nnlab(w: str, X, y, seed: int) -> float:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    import numpy as np
    from bench_epoch import WORKLOADS, time_epoch

    return time_epoch(WORKLOADS[w], X, y, np.float32, seed)


def epoch_torch(w: str, X, y, seed: int) -> float:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    spec = SPECS[w]
    sizes, m = spec["sizes"], spec["batch"]
    act = nn.Sigmoid if w == "W1" else nn.ReLU
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(act())
    model = nn.Sequential(*mods)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    if w == "W1":
        opt = torch.optim.SGD(
            [{"params": weights, "weight_decay": LMBDA / N_TRAIN}, {"params": biases, "weight_decay": 0.0}],
            lr=spec["lr"],
        )
        bce = nn.BCEWithLogitsLoss(reduction="sum")
        Yt = torch.nn.functional.one_hot(torch.from_numpy(y), 10).float()

        def loss_fn(z, idx):
            return bce(z, Yt[idx]) / len(idx)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.9)
        ce = nn.CrossEntropyLoss()
        yt = torch.from_numpy(y)

        def loss_fn(z, idx):
            return ce(z, yt[idx])

    Xt = torch.from_numpy(X)
    t0 = time.perf_counter()
    perm = torch.randperm(N_TRAIN)
    for i in range(0, N_TRAIN, m):
        idx = perm[i : i + m]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt[idx]), idx)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def epoch_sklearn(w: str, X, y, seed: int) -> float:
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    spec = SPECS[w]
    common = dict(
        hidden_layer_sizes=tuple(spec["sizes"][1:-1]),
        solver="sgd",
        batch_size=spec["batch"],
        learning_rate="constant",
        learning_rate_init=spec["lr"],
        max_iter=1,
        shuffle=True,
        random_state=seed,
        early_stopping=False,
        n_iter_no_change=10**9,
        tol=0.0,
    )
    if w == "W1":
        clf = MLPClassifier(
            activation="logistic",
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=spec["batch"] * LMBDA / N_TRAIN,
            **common,
        )
        target = np.eye(10, dtype=np.float32)[y]  # multilabel one-hot: sigmoid outputs + summed cross-entropy
    else:
        clf = MLPClassifier(activation="relu", momentum=0.9, nesterovs_momentum=False, alpha=0.0, **common)
        target = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(X, target)
        return time.perf_counter() - t0


EPOCH = {"nnlab": epoch_nnlab, "torch": epoch_torch, "sklearn": epoch_sklearn}
MODULE = {"nnlab": "numpy", "torch": "torch", "sklearn": "sklearn"}


def worker(fw: str, w: str, threads: int, repeats: int) -> dict:
    """In a fresh process whose thread env is already set: time ``repeats`` epochs."""
    try:
        __import__(MODULE[fw])
    except ImportError as err:
        return {"skipped": f"{fw} not installed ({err})"}
    if fw == "torch":
        import torch

        torch.set_num_threads(threads)
    X, y = data()
    times = [EPOCH[fw](w, X, y, seed) for seed in range(repeats)]
    return {"times": times}


def run(fw: str, w: str, threads: int, repeats: int, timeout: float) -> dict:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        fw,
        "--workloads",
        w,
        "--threads",
        str(threads),
        "--repeats",
        str(repeats),
    ]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"{fw} {w} with {threads} threads: over {timeout:.0f} s for {repeats} epochs"}
    if proc.returncode != 0:
        return {
            "skipped": f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", default="W1,W3")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per framework/workload/threads run")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    threads = [int(t) for t in args.threads.split(",")]
    if args.worker:
        print(json.dumps(worker(args.worker, workloads[0], threads[0], args.repeats)))
        return 0
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    for fw in frameworks:
        if fw not in FRAMEWORKS:
            ap.error(f"unknown framework {fw}; choose from {','.join(FRAMEWORKS)}")
    print(
        f"one epoch, {N_TRAIN} samples, float32; median of {args.repeats} repeats (min-max); "
        f"python {sys.version.split()[0]}; timings on a possibly shared machine"
    )
    header = f"{'workload':8s} {'framework':9s} " + " ".join(
        f"{f'{t} thread' + ('s' if t > 1 else ''):>24s}" for t in threads
    )
    print(header)
    for w in workloads:
        for fw in frameworks:
            cells, note = [], ""
            for t in threads:
                r = run(fw, w, t, args.repeats, args.timeout)
                if "skipped" in r:
                    cells.append(f"{'timeout' if 'over' in r['skipped'] else '-':>24s}")
                    note = r["skipped"]
                    continue
                ts = r["times"]
                cells.append(f"{statistics.median(ts):8.3f} s ({min(ts):.2f}-{max(ts):.2f})".rjust(24))
            print(f"{w:8s} {fw:9s} " + " ".join(cells) + (f"  [{note}]" if note else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
