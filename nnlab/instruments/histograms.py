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

Values beyond the range count in the outermost bins. A quantity that is all
zero at initialization (R6's output layer starts at W = 0, and the gradients
behind it at 0) has no scale to choose bins by: its edges are chosen at the
first record where it is not all zero, and the records before count every
value in the bin that holds 0. Stored in
``histograms.npz``: ``steps`` and ``epochs`` (one per record), and for each
quantity q and layer l ``edges.q.l`` (float64) and ``counts.q.l`` (int64, one
row per record; ``zeros.q.l``, the number of values of each record so far, while
the quantity has been all zero). The file is rewritten (atomically) at each epoch end; a
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


def layer_values(net: Network, X: np.ndarray, Y: np.ndarray, z_edges: dict[int, np.ndarray]) -> tuple[dict, dict]:
    """W and the probe mean ∂C/∂W of each layer (by number), and its probe z: counted chunk by chunk
    in ``z_edges[l]`` where the bins are chosen, else kept (a list of copies of the chunks)."""
    layers = net.learning_layers
    zs: dict[int, list[np.ndarray] | np.ndarray] = {}
    for i in range(0, len(X), net.eval_rows):
        net.forward(X[i : i + net.eval_rows])
        for layer in layers:
            l = layer.number
            if l in z_edges:
                zs[l] = zs.get(l, 0) + counts(layer.z, z_edges[l])
            else:
                zs.setdefault(l, []).append(np.array(layer.z, copy=True))
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
        #: quantities all zero so far: the number of values of each record (their bins are not chosen yet)
        self.zeros: dict[tuple[str, int], list[int]] = {}

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
        for key, sizes in h["zeros"].items():
            self.zeros[key] = sizes[: int(keep.sum())].tolist()

    def record(self, state: TrainState) -> None:
        net = state.net
        if self._Y is None:
            self._Y = net.targets(self.y)
        z_edges = {l: e for (q, l), e in self.edges.items() if q == "z"}
        arrays, zs = layer_values(net, self.X, self._Y, z_edges)
        for q in QUANTITIES:
            for l in sorted(zs):
                key = (q, l)
                if q == "z" and l in z_edges:  # counted already
                    self.counts[key].append(zs[l])
                    continue
                chunks = zs[l] if q == "z" else [arrays[q][l]]
                if key not in self.edges:
                    if not any(c.any() for c in chunks):  # all zero: no scale for the bins yet
                        self.zeros.setdefault(key, []).append(sum(c.size for c in chunks))
                        continue
                    whole = np.concatenate([c.ravel() for c in chunks])
                    edges = (log_edges if q == "gradients" else linear_edges)(whole, self.bins)
                    at_zero = counts(np.zeros(1), edges)
                    self.edges[key] = edges
                    self.counts[key] = [n * at_zero for n in self.zeros.pop(key, [])]
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
        for (q, l), sizes in self.zeros.items():
            out[f"zeros.{q}.{l}"] = np.array(sizes, dtype=np.int64)
        return out


def read_histograms(path: str | Path) -> dict:
    """``histograms.npz`` as {"steps", "epochs", "edges": {(q, l): edges}, "counts": {(q, l): (records, bins)},
    "zeros": {(q, l): sizes}} (a quantity in "counts" has a row per record; one in "zeros" has been all zero)."""
    arrays = load_npz(path)
    out: dict = {"steps": arrays["steps"], "epochs": arrays["epochs"], "edges": {}, "counts": {}, "zeros": {}}
    for name, a in arrays.items():
        kind, _, rest = name.partition(".")
        if kind in ("edges", "counts", "zeros"):
            q, _, l = rest.rpartition(".")
            out[kind][(q, int(l))] = a
    return out
