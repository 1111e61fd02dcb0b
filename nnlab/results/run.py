"""A run directory read: ``Run`` and the readers of its files (the format is docs/run-directory.md)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nnlab.errors import UserError
from nnlab.rundir import FORMAT, LONG_COLUMNS, LONG_REQUIRED  # the writer owns the format

SWEEP_FORMAT = 1
# files other writers add to a run directory (named here, the reader: the writers import the names from here)
DIAGNOSIS_FILE = "diagnosis.json"  # nnlab.diagnosis, at the end of a run
EVALUATION_FILE = "evaluation.json"  # nnlab.evaluation (`nnlab evaluate`)
MISTAKES_FILE = "evaluation-mistakes.npz"  # nnlab.evaluation: the most confident mistakes' inputs


class Series(NamedTuple):
    """One layer's values of one quantity, in step order: unpacks as ``epochs, steps, values``."""

    epochs: np.ndarray  # completed epochs at the row (int)
    steps: np.ndarray  # optimizer steps taken so far (int)
    values: np.ndarray  # float, NaN where the cell was empty or "nan"


#: quantity -> layer (1..L) -> Series
LongTable = dict[str, dict[int, Series]]


@dataclass
class Run:
    """Everything a run directory holds that the readers use."""

    path: Path
    meta: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, np.ndarray]
    gradients: LongTable
    activations: LongTable
    summary: dict[str, Any] | None
    overrides: list[str] = field(default_factory=list)
    curvature: LongTable = field(default_factory=dict)  # whole-network rows (layer 0): the Hessian's eigenvalue

    def histograms(self) -> dict | None:
        """``histograms.npz`` (``nnlab.instruments.histograms.read_histograms``), None if the run has none."""
        from nnlab.instruments.histograms import HISTOGRAMS, read_histograms

        path = self.path / HISTOGRAMS
        if not path.is_file():
            return None
        try:
            return read_histograms(path)
        except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways
            raise UserError(f"{path}: unreadable ({str(e) or type(e).__name__})") from None

    def config_text(self) -> str:
        """config.yaml as written (comments and order kept), for showing; ``run.config`` is it parsed."""
        try:
            return (self.path / "config.yaml").read_text(encoding="utf-8")
        except OSError:
            return "(no config.yaml in the run directory)\n"

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The diagnosis's findings (``read_findings``): read on each use, ``[]`` when there are none."""
        return read_findings(self.path)

    def evaluation(self) -> dict[str, Any] | None:
        """``evaluation.json`` (``nnlab evaluate``), None if the run has none; UserError if it is unreadable.

        A readable one has ``weights``: a non-empty mapping, "final" and/or "best" -> that set's numbers.
        """
        path = self.path / EVALUATION_FILE
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            weights = doc["weights"]
            if not isinstance(weights, dict) or not weights:
                raise ValueError("no weights")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: unreadable ({e})") from None
        return doc

    def mistake_inputs(self, which: str) -> np.ndarray:
        """The inputs (rows) of the ``which`` ("final"/"best") weights' most confident mistakes,
        from ``evaluation-mistakes.npz``; UserError if it is missing or unreadable."""
        path = self.path / MISTAKES_FILE
        try:
            with np.load(path, allow_pickle=False) as f:
                return np.asarray(f[f"X_{which}"], dtype=float)
        except (OSError, KeyError, ValueError) as e:
            raise UserError(f"{path}: missing or unreadable ({e})") from None

    # --- identity -----------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.config.get("name") or self.path.name)

    @property
    def status(self) -> str:
        return str((self.summary or {}).get("status") or self.meta.get("status") or "unknown")

    @property
    def seed(self) -> int | None:
        seed = self.meta.get("seed")
        if seed is None:
            seed = (self.config.get("training") or {}).get("seed")
        return seed

    @property
    def train_metrics(self) -> str:
        """What the train_* columns were measured on: "probe" (the default), "full" or "none"."""
        return str((self.config.get("instruments") or {}).get("train_metrics") or "probe")

    # --- shape of the network -----------------------------------------------
    @property
    def sizes(self) -> list[int] | None:
        sizes = (self.config.get("model") or {}).get("sizes")
        return list(sizes) if sizes else None

    @property
    def model_layers(self) -> list[dict] | None:
        """config model.layers as mappings ({kind: ..., ...}), or None for a ``sizes`` net."""
        layers = (self.config.get("model") or {}).get("layers")
        if not layers:
            return None
        return [x if isinstance(x, dict) else {"kind": x} for x in layers]

    @property
    def layer_kinds(self) -> list[str]:
        """The kind of each weight layer 1..L: "dense" or "conv2d"."""
        if self.model_layers is None:
            return ["dense"] * self.n_layers
        return [x.get("kind") for x in self.model_layers if _numbered(x.get("kind"))]

    @property
    def architecture(self) -> str:
        """The net in a few characters: 784-30-10, or conv20x5-pool2-dense100-dense10."""
        if self.sizes:
            return "-".join(str(s) for s in self.sizes)
        if self.model_layers is None:
            return "?"
        return layers_label(self.model_layers)

    @property
    def n_layers(self) -> int:
        """L: the number of weight layers (the output layer's index)."""
        if self.sizes:
            return len(self.sizes) - 1
        if self.model_layers is not None:
            return sum(_numbered(x.get("kind")) for x in self.model_layers)
        layers = [l for table in (self.gradients, self.activations) for q in table.values() for l in q]
        return max(layers, default=0)

    @property
    def hidden_layers(self) -> list[int]:
        return list(range(1, self.n_layers))

    def layer_kind(self, layer: int) -> str:
        """The kind of weight layer ``layer`` (1..L): "dense" or "conv2d" ("dense" where the config does not say)."""
        kinds = self.layer_kinds
        return kinds[layer - 1] if 0 < layer <= len(kinds) else "dense"

    def layer_label(self, layer: int, short: bool = False) -> str:
        """ "hidden layer 2", "conv layer 1", "output layer" ("hidden 2", "conv 1", "output" if ``short``)."""
        return layer_label(layer, self.n_layers, self.layer_kind(layer), short)

    # --- metrics --------------------------------------------------------------
    @property
    def epochs(self) -> np.ndarray:
        return self.metrics.get("epoch", np.array([], dtype=float))

    def has_metric(self, column: str) -> bool:
        col = self.metrics.get(column)
        return col is not None and bool(np.any(~np.isnan(col)))

    @property
    def steps_per_epoch(self) -> float | None:
        """Optimizer steps per epoch, from consecutive metrics rows (None if unknown)."""
        ep, st = self.metrics.get("epoch"), self.metrics.get("step")
        if ep is None or st is None or len(ep) < 2:
            return None
        d_ep, d_st = np.diff(ep), np.diff(st)
        ok = d_ep > 0
        if not np.any(ok):
            return None
        return float(np.median(d_st[ok] / d_ep[ok]))

    def best_epoch(self) -> int | None:
        """summary best.epoch; for an unfinished run the earliest epoch ≥ 1 of highest validation accuracy."""
        best = (self.summary or {}).get("best") or {}
        if best.get("epoch") is not None:
            return int(best["epoch"])
        ep, acc = self.metrics.get("epoch"), self.metrics.get("validation_accuracy")
        if ep is None or acc is None:
            return None
        ok = (ep >= 1) & ~np.isnan(acc)
        if not np.any(ok):
            return None
        idx = np.flatnonzero(ok)
        return int(ep[idx[np.argmax(acc[idx])]])

    def metric_at(self, column: str, epoch: int | None) -> float | None:
        """The metrics.csv value of ``column`` at ``epoch`` (the last such row), or None."""
        if epoch is None or column not in self.metrics:
            return None
        rows = np.flatnonzero(self.epochs == epoch)
        if len(rows) == 0:
            return None
        v = float(self.metrics[column][rows[-1]])
        return None if math.isnan(v) else v

    @property
    def final_epoch(self) -> int | None:
        final = (self.summary or {}).get("final") or {}
        if final.get("epoch") is not None:
            return int(final["epoch"])
        return int(self.epochs[-1]) if len(self.epochs) else None

    def epoch_of(self, part: str) -> int | None:
        """The epoch of ``part``: "final" (``final_epoch``) or "best" (``best_epoch()``)."""
        return self.final_epoch if part == "final" else self.best_epoch()

    def result(self, part: str, column: str) -> float | None:
        """``part`` ("final" or "best") value of ``column``: summary.json, else metrics.csv."""
        s = ((self.summary or {}).get(part) or {}).get(column)
        if s is not None:
            return float(s)
        return self.metric_at(column, self.epoch_of(part))

    @property
    def wall_seconds(self) -> float | None:
        """summary wall_seconds, else the sum of metrics ``seconds`` (training steps only)."""
        w = (self.summary or {}).get("wall_seconds")
        if w is not None:
            return float(w)
        sec = self.metrics.get("seconds")
        if sec is not None and np.any(~np.isnan(sec)):
            return float(np.nansum(sec))
        return None

    # --- long tables --------------------------------------------------------
    def layer_values(self, table: str, quantity: str, at: str = "initial") -> dict[int, float]:
        """layer -> value of ``quantity`` at the first ("initial") or last ("final") recorded row.

        "initial" is only the rows at step 0 (at initialization); a resumed or
        truncated file without them gives ``{}``.
        """
        data = getattr(self, table).get(quantity, {})
        out: dict[int, float] = {}
        for layer, s in sorted(data.items()):
            if len(s.values) == 0:
                continue
            if at == "initial":
                rows = np.flatnonzero(s.steps == 0)
                if len(rows):
                    out[layer] = float(s.values[rows[0]])
            elif at == "final":
                out[layer] = float(s.values[-1])
            else:
                raise ValueError(f"at must be 'initial' or 'final', not {at!r}")
        return out

    def delta_norms(self, at: str = "initial") -> dict[int, float]:
        """layer -> ||δ^l|| at initialization or at the last recorded step (gradients.csv)."""
        return self.layer_values("gradients", "delta_norm", at)

    def csv_label(self, layer: int) -> str:
        """The layer's label as the CSVs' ``label`` column writes it: ``dense1``, ``conv2``, ``output``."""
        if layer == self.n_layers:
            return "output"
        kind = self.layer_kind(layer)
        from nnlab.layers import LAYERS

        stem = LAYERS.get(kind).label_stem if kind in LAYERS else None
        return f"{stem or kind}{layer}"

    # --- pandas views (nnlab.frames; pandas is imported on first use) ---------
    @property
    def metrics_df(self):
        """metrics.csv as a DataFrame, one row per epoch."""
        from nnlab import frames

        return frames.metrics(self)

    @property
    def gradients_df(self):
        """gradients.csv in tidy form: step, epoch, layer, label, quantity, value."""
        from nnlab import frames

        return frames.long(self, "gradients")

    @property
    def activations_df(self):
        """activations.csv in tidy form: step, epoch, layer, label, quantity, value."""
        from nnlab import frames

        return frames.long(self, "activations")

    @property
    def epochs_df(self):
        """One row per epoch: the metrics and each ``<quantity>/<label>`` at the epoch's end."""
        from nnlab import frames

        return frames.per_epoch(self)


def layers_label(layers: list[Any]) -> str:
    """config model.layers in a few characters: conv20x5-pool2-dense100-dense10."""
    short = {
        "conv2d": lambda x: f"conv{x.get('filters')}x{x.get('kernel')}",
        "maxpool2d": lambda x: f"pool{x.get('size', 2)}",
        "dense": lambda x: f"dense{x.get('units')}",
    }
    layers = [x if isinstance(x, dict) else {"kind": x} for x in layers]
    return "-".join(short.get(x.get("kind"), lambda x: str(x.get("kind")))(x) for x in layers)


def _numbered(kind: str | None) -> bool:
    """A layer kind with weights, one of Nielsen's numbered layers 1..L (as the kind's class declares)."""
    from nnlab.layers import LAYERS

    return kind in LAYERS and LAYERS.get(kind).numbered


def layer_label(layer: int, n_layers: int, kind: str = "dense", short: bool = False) -> str:
    """ "hidden layer l" (a dense layer l < L), "conv layer l", "output layer" for L."""
    name = "output" if layer == n_layers else ("conv" if kind == "conv2d" else "hidden")
    if short:
        return name if layer == n_layers else f"{name} {layer}"
    return f"{name} layer" if layer == n_layers else f"{name} layer {layer}"


# --- reading ----------------------------------------------------------------


def is_run_dir(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "meta.json").is_file()


def is_sweep_dir(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / "sweep.json").is_file()


def not_a_run(path: str | Path) -> UserError:
    return UserError(
        f"{path}: not a run directory (no meta.json); give a folder written by `nnlab train`"
        " (runs/<stamp>-<name>/), a sweep folder or a folder holding runs"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None


def _number(cell: str) -> float | None:
    """A CSV cell as written by the run directory writer: empty -> None, "nan" -> NaN, text that is no number -> NaN."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return math.nan


def _float(cell: str) -> float:
    v = _number(cell)
    return math.nan if v is None else v


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows; a missing or empty file is ``([], [])``; rows of the wrong width are dropped."""
    if not path.is_file():
        return [], []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                return [], []
            header = [h.strip() for h in header]
            rows = [r for r in reader if len(r) == len(header)]
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    return header, rows


def _metric_table(path: Path) -> tuple[list[str], list[list[float | None]]]:
    header, rows = _read_csv(path)
    return header, [[_number(c) for c in r] for r in rows]


def read_metric_rows(path: str | Path) -> list[dict[str, float | None]]:
    """metrics.csv as one dict per row, column -> value (empty cell None, "nan" NaN); ``[]`` if absent.

    The form ``nnlab train --resume`` takes the run's history back in (the summary is computed from it).
    """
    header, rows = _metric_table(Path(path))
    return [dict(zip(header, r)) for r in rows]


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """metrics.csv as column -> float array (empty cells NaN); ``{}`` if absent."""
    header, rows = _metric_table(Path(path))
    if not header:
        return {}
    nan = math.nan
    return {h: np.array([nan if r[i] is None else r[i] for r in rows], dtype=float) for i, h in enumerate(header)}


def read_long(path: str | Path) -> LongTable:
    """gradients.csv / activations.csv as quantity -> layer -> Series; ``{}`` if absent or empty."""
    path = Path(path)
    header, rows = _read_csv(path)
    if not header:
        return {}
    missing = [c for c in LONG_REQUIRED if c not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(LONG_COLUMNS)}")
    i_step, i_epoch, i_layer, i_q, i_v = (header.index(c) for c in LONG_REQUIRED)
    acc: dict[str, dict[int, tuple[list[int], list[int], list[float]]]] = {}
    for r in rows:
        try:
            step, epoch, layer = int(float(r[i_step])), int(float(r[i_epoch])), int(float(r[i_layer]))
        except ValueError:
            continue
        e, s, v = acc.setdefault(r[i_q].strip(), {}).setdefault(layer, ([], [], []))
        e.append(epoch)
        s.append(step)
        v.append(_float(r[i_v]))

    def series(e: list[int], s: list[int], v: list[float]) -> Series:
        order = np.argsort(np.array(s, dtype=int), kind="stable")  # step order (files are written in it)
        return Series(np.array(e, dtype=int)[order], np.array(s, dtype=int)[order], np.array(v, dtype=float)[order])

    return {q: {layer: series(*cols) for layer, cols in sorted(layers.items())} for q, layers in acc.items()}


def _read_json_quietly(path: Path) -> Any:
    """The JSON in ``path``, or None if it is missing, partial or unreadable (never an error)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_findings(path: str | Path) -> list[dict[str, Any]]:
    """A run folder's diagnosis findings: ``diagnosis.json`` (a list, or an object with "findings"),
    else ``summary.json["diagnosis"]``; ``[]`` when there is none or it cannot be read (never an error)."""
    path = Path(path)
    for file, key in ((path / DIAGNOSIS_FILE, None), (path / "summary.json", "diagnosis")):
        doc = _read_json_quietly(file)
        if key is not None:
            doc = doc.get(key) if isinstance(doc, dict) else None
        if isinstance(doc, dict):
            doc = doc.get("findings")
        if isinstance(doc, list):
            return [f for f in doc if isinstance(f, dict)]
    return []


def run_status(path: str | Path) -> tuple[str, str | None]:
    """A run folder's meta.json status and error, for a sweep watching its members.

    Never an error: a folder that does not exist yet, or has no, a partial or an
    unreadable meta.json, is ``("pending", None)``.
    """
    meta = _read_json_quietly(Path(path) / "meta.json")
    if not isinstance(meta, dict):
        return "pending", None
    return str(meta.get("status") or "pending"), meta.get("error")


def read_summary(path: str | Path) -> dict[str, Any] | None:
    """A run folder's summary.json, or None while there is none (or it is partial or not an object)."""
    summary = _read_json_quietly(Path(path) / "summary.json")
    return summary if isinstance(summary, dict) else None


def load_run(path: str | Path, tables: bool = True) -> Run:
    """Read a run directory (any status: running, completed, failed, ...).

    ``tables=False`` reads meta.json, config.yaml, overrides.json and summary.json only:
    the CSV tables are left empty (for a caller that wants a run's config or results, not its curves).
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such directory")
    if not (path / "meta.json").is_file():
        raise not_a_run(path)
    meta = _read_json(path / "meta.json")
    if not isinstance(meta, dict):
        raise UserError(f"{path}/meta.json: expected a JSON object")
    fmt = meta.get("format")
    if fmt != FORMAT:
        raise UserError(f"{path}: run directory format {fmt!r} is not supported; this nnlab reads format {FORMAT}")
    config: dict[str, Any] = {}
    if (path / "config.yaml").is_file():
        import yaml

        try:
            config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{path}/config.yaml: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(config, dict):
            raise UserError(f"{path}/config.yaml: expected a mapping")
    summary = _read_json(path / "summary.json") if (path / "summary.json").is_file() else None
    overrides = _read_json(path / "overrides.json") if (path / "overrides.json").is_file() else []
    return Run(
        path=path,
        meta=meta,
        config=config,
        metrics=read_metrics(path / "metrics.csv") if tables else {},
        gradients=read_long(path / "gradients.csv") if tables else {},
        activations=read_long(path / "activations.csv") if tables else {},
        summary=summary if isinstance(summary, dict) else None,
        overrides=list(overrides) if isinstance(overrides, list) else [],
        curvature=read_long(path / "curvature.csv") if tables else {},
    )
