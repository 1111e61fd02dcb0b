"""Histograms of each layer's weights, probe-set gradients and pre-activations z, in fixed bins.

Bin edges are chosen once per (quantity, layer), at initialization, and kept
for the whole run, so every histogram of a layer is comparable with every
other (and the early epochs are kept like the late ones):

- ``weights`` (W^l) and ``z`` (z^l on the probe set): ``bins`` equal bins over
  [-R, R], R twice the largest |value| at initialization;
- ``gradients`` (the probe-set mean ∂C/∂W^l, L2 included): symmetric
  log-spaced bins, ``bins // 2`` per sign from 10^-4 of the median |value| at
  initialization to 10 times the largest (gradients shrink and grow by decades),
  and one bin (-lo, lo) around 0.

Values beyond the range count in the outermost bins. Stored in
``histograms.npz``: ``steps`` and ``epochs`` (one per record), and for each
quantity q and layer l ``edges.q.l`` (float64) and ``counts.q.l`` (int64, one
row per record). The file is rewritten (atomically) at each epoch end; a
resumed run keeps the records up to its checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nnlab.instruments.layers import probe_mean_gradients
from nnlab.instruments.tracking import Tracked
from nnlab.io import load_npz, save_npz
from nnlab.network import Network
from nnlab.training import TrainState

HISTOGRAMS = "histograms.npz"
QUANTITIES = ("weights", "gradients", "z")


def linear_edges(values: np.ndarray, bins: int) -> np.ndarray:
    r = 4.0 * float(np.abs(values).max()) if values.size else 1.0
    return np.linspace(-r, r, bins + 1) if r > 0 else np.linspace(-1.0, 1.0, bins + 1)


def log_edges(values: np.ndarray, bins: int) -> np.ndarray:
    mags = np.abs(values[values != 0])
    if mags.size == 0:
        lo, hi = 1e-12, 1.0
    else:
        lo, hi = float(np.median(mags)) * 1e-4, float(mags.max()) * 10.0
    half = np.logspace(math.log10(lo), math.log10(hi), max(bins // 2, 1) + 1)
    return np.concatenate([-half[::-1], half])


def counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins of ``edges``, values beyond them in the outermost bins."""
    v = np.clip(values.ravel(), edges[0], edges[-1])
    return np.histogram(v, bins=edges)[0].astype(np.int64)


def layer_values(net: Network, X: np.ndarray, Y: np.ndarray) -> tuple[dict, dict]:
    """The numbers each quantity's histogram counts, per layer number: W, the probe mean ∂C/∂W, and
    the probe z in chunks (as a list of arrays: they are counted chunk by chunk)."""
    layers = net.learning_layers
    zs: dict[int, list[np.ndarray]] = {layer.number: [] for layer in layers}
    for i in range(0, len(X), net.eval_rows):
        net.forward(X[i : i + net.eval_rows])
        for layer in layers:
            zs[layer.number].append(np.array(layer.z, copy=True))
    _, gW = probe_mean_gradients(net, X, Y)
    arrays = {
        "weights": {layer.number: layer.W for layer in layers},
        "gradients": {layer.number: np.array(g, copy=True) for layer, g in zip(layers, gW)},
    }
    return arrays, zs


class Histograms(Tracked):
    """Keeps every record in memory and rewrites ``path`` (when given) at each epoch end."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        bins: int = 48,
        path: Path | None = None,
        every_steps: int | None = None,
    ) -> None:
        super().__init__(every_steps)
        self.X, self.y, self.bins, self.path = X, y, bins, path
        self._Y: np.ndarray | None = None
        self.edges: dict[tuple[str, int], np.ndarray] = {}
        self.counts: dict[tuple[str, int], list[np.ndarray]] = {}
        self.steps: list[int] = []
        self.epochs: list[int] = []
        self.labels: dict[int, str] = {}

    def on_train_start(self, state: TrainState) -> None:
        if state.step > 0 and self.path is not None and self.path.exists():
            self.load(self.path, up_to_step=state.step)
        super().on_train_start(state)

    def load(self, path: Path, up_to_step: int) -> None:
        """Records of an earlier part of this run, those after ``up_to_step`` dropped."""
        h = read_histograms(path)
        keep = h["steps"] <= up_to_step
        self.steps, self.epochs = h["steps"][keep].tolist(), h["epochs"][keep].tolist()
        for key, edges in h["edges"].items():
            self.edges[key] = edges
            self.counts[key] = list(h["counts"][key][keep])

    def record(self, state: TrainState) -> None:
        net = state.net
        if self._Y is None:
            self._Y = net.targets(self.y)
        arrays, zs = layer_values(net, self.X, self._Y)
        for layer in net.learning_layers:
            self.labels[layer.number] = layer.label
        for q in QUANTITIES:
            for l in sorted(zs):
                chunks = zs[l] if q == "z" else [arrays[q][l]]
                key = (q, l)
                if key not in self.edges:
                    whole = np.concatenate([c.ravel() for c in chunks])
                    self.edges[key] = (log_edges if q == "gradients" else linear_edges)(whole, self.bins)
                    self.counts[key] = []
                self.counts[key].append(sum(counts(c, self.edges[key]) for c in chunks))
        self.steps.append(state.step)
        self.epochs.append(state.epoch)

    def on_epoch_end(self, state: TrainState) -> None:
        super().on_epoch_end(state)
        if self.path is not None:
            save_npz(self.path, self.arrays())

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"steps": np.array(self.steps, dtype=np.int64), "epochs": np.array(self.epochs, dtype=np.int64)}
        for (q, l), edges in self.edges.items():
            out[f"edges.{q}.{l}"] = edges
            out[f"counts.{q}.{l}"] = np.array(self.counts[(q, l)], dtype=np.int64).reshape(-1, len(edges) - 1)
        return out


def read_histograms(path: str | Path) -> dict:
    """``histograms.npz`` as {"steps", "epochs", "edges": {(q, l): edges}, "counts": {(q, l): (records, bins)}}."""
    arrays = load_npz(path)
    out: dict = {"steps": arrays["steps"], "epochs": arrays["epochs"], "edges": {}, "counts": {}}
    for name, a in arrays.items():
        kind, _, rest = name.partition(".")
        if kind in ("edges", "counts"):
            q, _, l = rest.rpartition(".")
            out[kind][(q, int(l))] = a
    return out
