"""R5 (docs/protocols.md#r5): the chain 784-1-1-1-1-10, vanishing and exploding.

    python scripts/r5_chain.py [--vanishing-run RUN_DIR] [--out runs/r5-chain]
        [--set KEY.PATH=VALUE ...]

Needs full MNIST (`nnlab data fetch mnist`, or NNLAB_DATA naming a folder that holds it).

For one neuron per layer, backpropagation is a product:

    dC/db1 = s'(z1) w2 s'(z2) w3 s'(z3) w4 s'(z4) dC/da4

so each earlier layer's gradient is the next one's times a factor w_j s'(z_j).

- vanishing: the network of configs/relu/r5-chain.yaml at initialization
  (W ~ N(0, 1/n_in), b ~ N(0, 1)): |w_j s'(z_j)| < 1/4 whenever |w_j| < 1;
  with --vanishing-run, also the trained network of that run (its weights.npz);
- exploding: Nielsen's construction: w_j = 100 for the chain links, biases
  chosen so z_j = 0 (b1 = 0 with W1 = 0 gives a1 = 1/2; b_j = -100 * 1/2 = -50),
  so every factor is 100 * s'(0) = 25 and dC/db1 is 25^3 times dC/db4.

Printed: per hidden layer, the mean over the probe set (first 1,000 training
images) of the factor w_j s'(z_j) and |dC/db_l| (= Nielsen's ||delta^l||).
Written: <out>/r5.json and <out>/r5.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from nnlab.build import build_data, build_network
from nnlab.config import load_config
from nnlab.errors import UserError
from nnlab.instruments import probe_gradients
from nnlab.io import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "relu" / "r5-chain.yaml"


def measure(net, X, y) -> dict:
    """Per hidden layer l = 1..4: mean factor w_l s'(z_l) (w_1: none) and |dC/db_l| on (X, y)."""
    Y = net.targets(y)
    norms = probe_gradients(net, X, Y)["delta_norm"]  # also leaves z, a of the probe set in the layers
    hidden = net.layers[:-1]
    factors = []
    for l, layer in enumerate(hidden, start=1):
        slope = layer.activation.df(layer.z, layer.a)[:, 0]  # s'(z_l) per example
        w = float(layer.W[0, 0]) if l > 1 else None  # the link from neuron l-1 to l
        factors.append(
            {
                "layer": l,
                "w": w,
                "mean_sigma_prime": float(slope.mean()),
                "mean_factor": float((w * slope).mean()) if w is not None else None,
            }
        )
    return {"delta_norm": [float(v) for v in norms[: len(hidden)]], "factors": factors}


def exploding(net) -> None:
    """Nielsen's construction: W1 = 0, b1 = 0, then w = 100 and b = -50 on every link, so z_j = 0."""
    first = net.layers[0]
    first.W[...] = 0.0
    first.b[...] = 0.0
    for layer in net.layers[1:-1]:
        layer.W[...] = 100.0
        layer.b[...] = -50.0


def table(name: str, m: dict) -> str:
    lines = [
        f"### {name}",
        "",
        "| hidden layer l | w_l | mean s'(z_l) | mean w_l s'(z_l) | abs(dC/db_l) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for f, d in zip(m["factors"], m["delta_norm"]):
        w = "" if f["w"] is None else f"{f['w']:.3g}"
        factor = "" if f["mean_factor"] is None else f"{f['mean_factor']:.3g}"
        lines.append(f"| {f['layer']} | {w} | {f['mean_sigma_prime']:.3g} | {factor} | {d:.3g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vanishing-run", type=Path, help="a finished run of configs/relu/r5-chain.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "r5-chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a key of configs/relu/r5-chain.yaml (e.g. data.dataset=mnist-mini)",
    )
    args = ap.parse_args()

    cfg = load_config(str(CONFIG), [f"training.seed={args.seed}", "training.dtype=float64", *args.set])
    data = build_data(cfg)
    X, y = data.X_train[:1000], data.y_train[:1000]
    results = {}
    net = build_network(cfg, np.random.default_rng(args.seed), n_train=data.n_train)
    results["vanishing, at initialization"] = measure(net, X, y)
    if args.vanishing_run:
        net.load(args.vanishing_run / "weights.npz")
        results["vanishing, after training"] = measure(net, X, y)
    net = build_network(cfg, np.random.default_rng(args.seed), n_train=data.n_train)
    exploding(net)
    results["exploding (w = 100, z = 0)"] = measure(net, X, y)

    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "r5.json", results)
    md = "\n".join(table(k, v) for k, v in results.items())
    atomic_write_text(args.out / "r5.md", md)
    print(md)
    print(f"written: {args.out / 'r5.json'}, {args.out / 'r5.md'}")


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # a bad --set, data not found: one line each, no traceback
        print("\n".join(f"error: {line}" for line in err.lines), file=sys.stderr)
        sys.exit(2)
