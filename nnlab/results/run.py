"""The one reader of run directories and sweep directories (format 1).

The contract is docs/run-directory.md. ``nnlab plot``, ``nnlab report`` and
``nnlab sweep`` read runs only through this module; nothing here trains,
recomputes or unpickles anything (CSV, JSON and YAML; the few ``.npz`` arrays
with pickles refused).

    run = load_run("runs/20261123-004330-quickstart")
    run.metrics["validation_accuracy"]            # float array, one per epoch row
    epochs, steps, values = run.gradients["delta_norm"][1]   # layer 1
    run.summary["best"]["epoch"]                   # None while a run is unfinished

Missing optional files (an instrument switched off: no or empty
``gradients.csv``/``activations.csv``; no ``summary.json`` while a run is
still going) give empty tables or ``None``, never an error. A folder that is
not a run directory, or one of an unknown format, is a ``UserError``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nnlab.errors import UserError
from nnlab.rundir import FORMAT, LONG_COLUMNS, LONG_REQUIRED  # the writer owns the format

SWEEP_FORMAT = 1
# files other writers add to a run directory (not imported from them: they import this module, or the engine)
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

    def layer_label(self, layer: int, short: bool = False) -> str:
        """ "hidden layer 2", "conv layer 1", "output layer" ("hidden 2", "conv 1", "output" if ``short``)."""
        kinds = self.layer_kinds
        kind = kinds[layer - 1] if 0 < layer <= len(kinds) else "dense"
        return layer_label(layer, self.n_layers, kind, short)

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

    def result(self, part: str, column: str) -> float | None:
        """``part`` ("final" or "best") value of ``column``: summary.json, else metrics.csv."""
        s = ((self.summary or {}).get(part) or {}).get(column)
        if s is not None:
            return float(s)
        epoch = self.final_epoch if part == "final" else self.best_epoch()
        return self.metric_at(column, epoch)

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
        kinds = self.layer_kinds
        kind = kinds[layer - 1] if 0 < layer <= len(kinds) else "dense"
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


# --- sweeps -------------------------------------------------------------------


@dataclass
class Member:
    """One run and its configuration: a sweep member (its id and grid point) or a run given by itself.

    ``point`` is dotted key -> value (what defines the configuration, seed
    aside); ``None`` for a run compared with nothing. ``id`` is ``None`` for a
    run that is not a sweep member.
    """

    id: str | None
    point: dict[str, Any] | None
    seed: int | None
    run: Run

    @property
    def label(self) -> str:
        return point_label(self.point or {})


class _MemberFrames:
    """pandas views of ``members`` (nnlab.frames), shared by Sweep and Selection."""

    @property
    def members_df(self):
        """One row per finished member: id, seed, the configuration keys, status, final and best results."""
        from nnlab import frames

        return frames.sweep_members(self)

    @property
    def metrics_df(self):
        """Every member's metrics rows, with member, seed and the configuration keys in front."""
        from nnlab import frames

        return frames.sweep_long(self, "metrics")

    @property
    def gradients_df(self):
        from nnlab import frames

        return frames.sweep_long(self, "gradients")

    @property
    def activations_df(self):
        from nnlab import frames

        return frames.sweep_long(self, "activations")


@dataclass
class Sweep(_MemberFrames):
    path: Path
    spec: dict[str, Any]  # sweep.json
    members: list[Member]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member id, why)

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or self.path.name)

    @property
    def keys(self) -> list[str]:
        return list(self.spec.get("keys") or [])

    @property
    def runs(self) -> list[Run]:
        return [m.run for m in self.members]


def read_sweep_json(path: str | Path) -> dict[str, Any]:
    """A sweep directory's sweep.json, checked: a JSON object of the format this nnlab reads (else UserError)."""
    path = Path(path)
    if not is_sweep_dir(path):
        raise UserError(f"{path}: not a sweep directory (no sweep.json)")
    spec = _read_json(path / "sweep.json")
    if not isinstance(spec, dict):
        raise UserError(f"{path}/sweep.json: expected a JSON object")
    fmt = spec.get("format")
    if fmt != SWEEP_FORMAT:
        raise UserError(
            f"{path}: sweep directory format {fmt!r} is not supported; this nnlab reads format {SWEEP_FORMAT}"
        )
    return spec


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep directory; members whose folder is missing or unfinished (no summary.json) are skipped."""
    path = Path(path)
    spec = read_sweep_json(path)
    members: list[Member] = []
    skipped: list[tuple[str, str]] = []
    for i, m in enumerate(spec.get("members") or []):
        mid = str(m.get("id", f"#{i}"))
        d = path / str(m.get("dir") or Path("members") / mid)
        if not is_run_dir(d):
            skipped.append((mid, "no run directory"))
            continue
        if not (d / "summary.json").is_file():
            skipped.append((mid, "unfinished (no summary.json)"))
            continue
        try:
            run = load_run(d)
        except UserError as e:
            skipped.append((mid, str(e)))
            continue
        seed = m.get("seed", run.seed)
        members.append(Member(mid, dict(m.get("point") or {}), seed, run))
    return Sweep(path, spec, members, skipped)


@dataclass
class Group:
    """The runs of one configuration (a grid point), over seeds."""

    point: dict[str, Any]
    runs: list[Run]
    members: list[Member] = field(default_factory=list)

    @property
    def label(self) -> str:
        return point_label(self.point)


@dataclass
class Selection(_MemberFrames):
    """The runs ``nnlab plot``, ``nnlab report`` and the notebook API were given, each with its configuration.

    One sweep: its members, their grid points and the sweep's keys. Anything
    else (runs, folders of runs, several sweeps): every run found, in the order
    given, and as configuration what tells the runs apart (``describing_keys``;
    the seed and naming keys never do). A single run has no configuration.
    """

    members: list[Member]
    keys: list[str]
    sweeps: list[Sweep] = field(default_factory=list)
    title: str = "nnlab"

    @property
    def runs(self) -> list[Run]:
        return [m.run for m in self.members]

    @property
    def sweep(self) -> Sweep | None:
        """The sweep, when the selection is exactly one sweep."""
        return self.sweeps[0] if len(self.sweeps) == 1 and len(self.members) == len(self.sweeps[0].members) else None

    @property
    def notes(self) -> list[str]:
        return [f"sweep member {mid}: skipped, {why}" for s in self.sweeps for mid, why in s.skipped]

    def groups(self) -> list[Group]:
        return group(self)[1]


def select(paths: Sequence[str | Path] | str | Path) -> Selection:
    """Read the runs at ``paths`` (run directories, sweep directories, folders of runs) into a Selection."""
    from nnlab.text import plural

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("give at least one run directory or sweep directory")
    if len(paths) == 1 and is_sweep_dir(paths[0]) and not is_run_dir(paths[0]):
        sweep = load_sweep(paths[0])
        return Selection(list(sweep.members), sweep.keys, [sweep], f"sweep {sweep.name}")
    members: list[Member] = []
    sweeps: list[Sweep] = []
    for p in paths:
        if is_sweep_dir(p) and not is_run_dir(p):
            sweeps.append(load_sweep(p))
            members += [Member(m.id, None, m.seed, m.run) for m in sweeps[-1].members]
        else:
            members += [Member(None, None, run.seed, run) for run in map(load_run, find_runs(p))]
    keys = describing_keys([m.run for m in members])
    if len(members) > 1:
        for m in members:
            m.point = {k: config_value(m.run, k) for k in keys}
    title = members[0].run.name if len(members) == 1 else plural(len(members), "run")
    return Selection(members, keys, sweeps, title)


def group(source: Selection | Sweep | Sequence[Run]) -> tuple[list[str], list[Group]]:
    """(the keys that define a configuration, the configurations in first-seen order).

    The one grouping of runs by configuration: runs whose points are equal (they
    differ only in seed or name) share a group. A Sweep groups by its grid
    points; runs by what tells them apart (``describing_keys``).
    """
    if isinstance(source, Sweep):
        source = Selection(list(source.members), source.keys, [source])
    elif not isinstance(source, Selection):
        runs = list(source)
        keys = describing_keys(runs)
        source = Selection([Member(None, {k: config_value(r, k) for k in keys}, r.seed, r) for r in runs], keys)
    groups: dict[str, Group] = {}
    for m in source.members:
        if m.point is None:
            continue
        key = json.dumps(m.point, sort_keys=True, default=str)
        g = groups.setdefault(key, Group(m.point, []))
        g.runs.append(m.run)
        g.members.append(m)
    return source.keys, list(groups.values())


def find_runs(path: str | Path) -> list[Path]:
    """Run directories at ``path``: itself, a sweep's finished members, or the runs directly inside a folder."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if is_run_dir(path):
        return [path]
    if is_sweep_dir(path):
        return [m.run.path for m in load_sweep(path).members]
    if path.is_dir():
        runs = sorted(p for p in path.iterdir() if is_run_dir(p))
        if runs:
            return runs
    raise not_a_run(path)


# --- configuration keys (what differs between runs) -----------------------------


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"sizes": [...]}} -> {"model.sizes": [...]} (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


#: keys that never define a configuration (they name or place a run, or are the seed)
IDENTITY_KEYS = ("name", "training.seed", "output.runs_dir", "output.checkpoint_every", "output.strict", "data.path")


def differing_keys(runs: Iterable[Run], ignore: Iterable[str] = IDENTITY_KEYS) -> list[str]:
    """Dotted config keys whose values differ between ``runs`` (seed and naming keys ignored)."""
    flats = [flatten(r.config) for r in runs]
    if len(flats) < 2:
        return []
    ignore = set(ignore)
    keys = sorted({k for f in flats for k in f} - ignore)
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]


def describing_keys(runs: Iterable[Run], ignore: Iterable[str] = IDENTITY_KEYS) -> list[str]:
    """The config keys that tell ``runs`` apart, as a reader wants them (labels, report columns).

    ``differing_keys`` less the settings that do not apply: a key missing from
    some runs' configs and equal wherever it is present (adam's ``rho1`` beside
    an sgd run, a leaky slope beside a sigmoid) is left out when the other keys
    already tell those runs apart; it stays when they do not (``clip_norm``
    absent in one run and 5 in another, nothing else differing).
    """
    runs = list(runs)
    flats = [flatten(r.config) for r in runs]
    keys = differing_keys(runs, ignore)

    def values(k: str, present_only: bool) -> set[str]:
        return {json.dumps(f.get(k), sort_keys=True) for f in flats if not present_only or f.get(k) is not None}

    chosen = [k for k in keys if len(values(k, present_only=True)) > 1]
    for k in keys:
        if k in chosen:
            continue
        seen: dict[str, set[str]] = {}  # runs alike on the chosen keys: does k still tell them apart?
        for f in flats:
            alike = json.dumps([f.get(c) for c in chosen], sort_keys=True, default=str)
            seen.setdefault(alike, set()).add(json.dumps(f.get(k), sort_keys=True))
        if any(len(v) > 1 for v in seen.values()):
            chosen.append(k)
    return [k for k in keys if k in chosen]


def config_value(run: Run, key: str) -> Any:
    return flatten(run.config).get(key)


def format_value(key: str, value: Any) -> str:
    """A config value as a short label: model.sizes [784, 30, 10] -> "784-30-10"."""
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return "-".join(str(v) for v in value)
    if key == "model.layers" and isinstance(value, list):
        return layers_label(value)
    if isinstance(value, dict) and "name" in value:  # {name: leaky_relu, slope: 0.1} -> leaky_relu(slope=0.1)
        rest = ", ".join(f"{k}={format_value(k, v)}" for k, v in value.items() if k != "name")
        return f"{value['name']}({rest})" if rest else str(value["name"])
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "none"
    return str(value)


def mean_std(values: Iterable[float | None]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (n - 1; 0 for one value) and count of the finite values."""
    v = np.array([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def point_label(point: dict[str, Any]) -> str:
    """One configuration's label: "784-30-10" for one key, "k1=v1, k2=v2" for several."""
    if not point:
        return "all runs"
    if len(point) == 1:
        ((k, v),) = point.items()
        return format_value(k, v)
    return ", ".join(f"{_short_key(k)}={format_value(k, v)}" for k, v in point.items())


def _short_key(key: str) -> str:
    """The last part of a dotted key, or the section for a name: optimizer.name -> optimizer."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]
