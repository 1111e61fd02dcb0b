"""One epoch of Nielsen's two-conv-layer net in nnlab and in PyTorch (CPU), side by side in one run.

    /work/benchvenv/bin/python bench/bench_conv.py [--images 50000] [--repeats 3] [--threads 1,2]
                                                   [--frameworks nnlab,torch] [--profile]

The network of configs/conv/r6-conv2.yaml (R6 row 3): 1x28x28 -> conv 20
maps of 5x5, sigmoid -> 2x2 max-pool -> conv 40 maps of 5x5 over the 20,
sigmoid -> 2x2 max-pool -> dense 100 sigmoid -> softmax 10, log-likelihood,
plain SGD η 0.1, mini-batch 10, float32, over ``--images`` random
MNIST-shaped images (seeded), reshuffled, no evaluation.

- nnlab: ``nnlab.training.train`` on ``build_network`` of that config;
- torch: ``nn.Sequential(Conv2d, Sigmoid, MaxPool2d, Conv2d, Sigmoid,
  MaxPool2d, Flatten, Linear, Sigmoid, Linear)`` with ``CrossEntropyLoss``
  and ``optim.SGD``, ``torch.set_num_threads(n)``.

Each run is a fresh subprocess with OPENBLAS/OMP/MKL threads set to n. The
table gives the median wall time and process CPU time of the repeats (CPU
time moves less when the machine is shared). ``--profile`` adds nnlab's time
per layer, forward and backward, over 500 steps. Run it from an environment
with torch (see bench/compare.py); a framework that is missing is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "nnlab" / "configs" / "conv" / "r6-conv2.yaml"


def data(n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    X = (rng.integers(0, 256, (n, 784)) / 255).astype(np.float32)
    y = rng.integers(0, 10, n)
    return X, y


def run_nnlab(n: int) -> dict:
    import numpy as np

    from nnlab.build import build_network, build_optimizer
    from nnlab.training import train

    X, y = data(n)
    net = build_network(str(CONFIG), np.random.default_rng(0), n_train=n)
    opt = build_optimizer(str(CONFIG))
    t, c = time.perf_counter(), time.process_time()
    train(net, opt, X, y, epochs=1, batch_size=10, rng=np.random.default_rng(1))
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}


def run_torch(n: int, threads: int) -> dict:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, y = data(n)
    X = torch.from_numpy(X).reshape(n, 1, 28, 28)
    y = torch.from_numpy(y)
    net = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Conv2d(20, 40, 5), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(640, 100), nn.Sigmoid(), nn.Linear(100, 10),
    )  # fmt: skip
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    t, c = time.perf_counter(), time.process_time()
    perm = torch.randperm(n)
    for i in range(0, n, 10):
        idx = perm[i : i + 10]
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X[idx]), y[idx]).backward()
        opt.step()
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}


def profile_nnlab(steps: int = 500) -> dict[str, list[float]]:
    """Seconds per layer (forward, backward) over ``steps`` mini-batches of 10."""
    import numpy as np

    from nnlab.build import build_network

    X, y = data(steps * 10)
    net = build_network(str(CONFIG), np.random.default_rng(0), n_train=len(X))
    Y = net.targets(y)
    times = {layer.label: [0.0, 0.0] for layer in net.layers}
    for i in range(0, len(X), 10):
        a = X[i : i + 10].reshape(10, *net.input_shape)
        for layer in net.layers:
            t = time.perf_counter()
            a = layer.forward(a)
            times[layer.label][0] += time.perf_counter() - t
        out = net.layers[-1]
        delta = net.cost.delta(out.z, out.a, Y[i : i + 10], out.activation) / 10
        t = time.perf_counter()
        dy = out.backward_delta(delta)
        times["output"][1] += time.perf_counter() - t
        for layer in net._backward_layers:
            t = time.perf_counter()
            dy = layer.backward(dy)
            times[layer.label][1] += time.perf_counter() - t
    return times


def child(args) -> None:
    if args.framework == "nnlab":
        print(json.dumps(run_nnlab(args.images)))
    else:
        print(json.dumps(run_torch(args.images, args.threads)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--frameworks", default="nnlab,torch")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", dest="framework", help=argparse.SUPPRESS)
    ap.add_argument("--child-threads", dest="threads_one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.framework:
        args.threads = args.threads_one
        return child(args)
    runs = []
    for fw in args.frameworks.split(","):
        for threads in [int(t) for t in args.threads.split(",")]:
            if fw == "nnlab" and threads != 1:
                continue  # nnlab runs one BLAS thread (its default): a second gains nothing at batch 10
            runs.append((fw, threads))
    results: dict[tuple[str, int], list[dict]] = {r: [] for r in runs}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every framework alike
        for fw, threads in runs:
            env = {
                **os.environ,
                **{v: str(threads) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
            }
            cmd = [
                sys.executable,
                __file__,
                "--images",
                str(args.images),
                "--child",
                fw,
                "--child-threads",
                str(threads),
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"{fw} ({threads} thread): skipped: {proc.stderr.strip().splitlines()[-1]}", file=sys.stderr)
                continue
            results[(fw, threads)].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    scale = 50_000 / args.images
    print(f"one epoch of 50,000 images (measured on {args.images:,}; medians of {args.repeats} interleaved repeats)")
    print(f"{'framework':<10} {'threads':>7} {'wall s':>8} {'cpu s':>8}")
    med = {}
    for (fw, threads), rs in results.items():
        if rs:
            wall, cpu = (statistics.median(r[k] for r in rs) * scale for k in ("wall", "cpu"))
            med[(fw, threads)] = wall, cpu
            print(f"{fw:<10} {threads:>7} {wall:>8.1f} {cpu:>8.1f}")
    if ("nnlab", 1) in med and ("torch", 1) in med:
        w, c = (med[("nnlab", 1)][i] / med[("torch", 1)][i] for i in (0, 1))
        print(f"nnlab / torch (1 thread): {w:.2f}x wall, {c:.2f}x cpu")
    if args.profile:
        times = profile_nnlab()
        total = sum(f + b for f, b in times.values())
        print(f"\nnnlab, seconds per 500 steps by layer (total {total:.2f} s):")
        for label, (f, b) in times.items():
            print(f"  {label:<8} forward {f:6.3f}  backward {b:6.3f}  ({100 * (f + b) / total:4.1f}%)")


if __name__ == "__main__":
    main()
