"""A finished run's network on data: accuracy with its final and best-epoch weights,
accuracy per class and the confusion matrix.

    ev = evaluate_run("runs/20261203-051904-own-digits")                  # the run's test set
    ev = evaluate_run(run, data_file="other.npz")                         # another dataset
    ev = evaluate_run(run, sets=["data.dataset=fashion-mnist"], part="validation")

The network is rebuilt from the run's ``config.yaml`` and its parameters read
from ``weights.npz`` (the last epoch) and ``weights-best.npz`` (the epoch of
best validation accuracy), both with ``allow_pickle=False``. Other data is
given the way a config gives it (``data.*`` keys); it must fit the network
(inputs and classes), which the config checks say in one line.
``confusion[i, j]`` counts the examples of true class ``i`` predicted as ``j``;
``mistakes`` lists the most confidently misclassified examples (for a grid of them).

``save(ev)`` keeps the result in the run directory for ``nnlab plot`` and
``nnlab report --format html``: ``evaluation.json`` (``to_dict``, plus the
image shape) and ``evaluation-mistakes.npz`` (the rows of ``X`` of each
weights' mistakes, in the order listed), both written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.errors import UserError
from nnlab.results import EVALUATION_FILE, MISTAKES_FILE
from nnlab.tables import Column, Table, to_text
from nnlab.tables import to_csv as table_csv
from nnlab.tables import to_markdown as md_table

PARTS = ("test", "validation", "train")
WEIGHTS = (("final", "weights.npz"), ("best", "weights-best.npz"))
MISTAKES = 25  # the most confidently misclassified examples kept (for a figure of them)


@dataclass(frozen=True)
class WeightsResult:
    """One set of weights on the data: ``confusion`` ``(k, k)``, rows the true class."""

    which: str  # "final" or "best"
    file: str
    epoch: int | None
    confusion: np.ndarray
    #: the most confident mistakes, most confident first: (example index, true class, predicted, a^L of it)
    mistakes: tuple[tuple[int, int, int, float], ...] = ()

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    @property
    def class_counts(self) -> list[int]:
        return [int(c) for c in self.confusion.sum(axis=1)]

    @property
    def per_class(self) -> list[float | None]:
        """Accuracy on each true class (None for a class with no example in the data)."""
        return [int(self.confusion[i, i]) / n if n else None for i, n in enumerate(self.class_counts)]


@dataclass(frozen=True)
class Evaluation:
    """``X``: the examples evaluated, as the network saw them (rows; ``image`` their shape, if images)."""

    run: Path
    dataset: str
    source: str
    part: str
    results: list[WeightsResult]
    X: np.ndarray | None = None
    image: tuple[int, int, int] | None = None

    @property
    def n_classes(self) -> int:
        return len(self.results[0].confusion)


def confusion_matrix(y: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` int64 counts: ``[i, j]`` = examples of class ``i`` predicted as ``j``."""
    return np.bincount(np.asarray(y, np.int64) * k + predicted, minlength=k * k).reshape(k, k)


def _overrides(sets: Sequence[str], data_file: str | Path | None) -> list[str]:
    """The ``--set`` strings that point the run's config at other data."""
    from nnlab.config.schema import FILE_KEYS, file_dataset

    for s in sets:
        if not s.startswith("data."):
            raise UserError(f"--set {s}: evaluate takes data.* keys only; the network is the run's own")
    out: list[str] = []
    if data_file is not None:
        path = Path(data_file)
        kind = file_dataset(path)
        if kind is None:
            raise UserError(f"{path}: --data reads a .npz or .csv file (your own data); for a named dataset"
                            " use --set data.dataset=NAME")  # fmt: skip
        out += [f"data.dataset={kind}", f"data.path={json.dumps(str(path))}"]
    if out or any(s.split("=", 1)[0] in ("data.dataset", "data.path") for s in sets):
        # other data: the run's part sizes and file options were for its own, and nothing trains
        # (a batch or probe set larger than the other training part is no matter)
        reset = [f"data.{k}=null" for k in ("train_size", "validation_size", "test_size", *FILE_KEYS)]
        reset += ["training.full_batch=false", "training.batch_size=1", "instruments.probe_size=1"]
        out = reset + out
    return out + list(sets)


def evaluate_run(
    run_dir: str | Path, *, sets: Sequence[str] = (), data_file: str | Path | None = None, part: str = "test"
) -> Evaluation:
    """The run's final and best weights on ``part`` of its data, or of the data ``sets``/``data_file`` name."""
    from nnlab.build import build_data, build_network
    from nnlab.config import load_config
    from nnlab.memory import config_eval_rows
    from nnlab.results import is_run_dir, load_run, not_a_run

    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise not_a_run(run_dir)
    if part not in PARTS:
        raise UserError(f"unknown part {part!r}; valid: {', '.join(PARTS)}")
    run = load_run(run_dir, tables=False)  # its summary: the best epoch
    cfg = load_config(str(run_dir / "config.yaml"), _overrides(sets, data_file), label=f"{run_dir}/config.yaml")
    data = build_data(cfg)
    X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
    net = build_network(cfg, np.random.default_rng(0), n_train=data.n_train)
    net.eval_rows = config_eval_rows(cfg)
    summary = run.summary or {}
    results = []
    for which, name in WEIGHTS:
        path = run_dir / name
        if not path.is_file():
            if which == "final":
                raise UserError(f"{path}: missing; the run saved no weights (it stopped before its first epoch ended)")
            continue
        try:
            net.load(path)
        except (ValueError, OSError) as err:
            raise UserError(f"{path}: cannot be loaded into the run's network ({err})") from None
        epoch = (summary.get(which) or {}).get("epoch")
        proba = net.predict_proba(X)
        predicted = proba.argmax(axis=1)
        confidence = proba[np.arange(len(X)), predicted]
        wrong = np.flatnonzero(predicted != y)
        top = wrong[np.argsort(-confidence[wrong], kind="stable")[:MISTAKES]]
        mistakes = tuple((int(i), int(y[i]), int(predicted[i]), float(confidence[i])) for i in top)
        results.append(WeightsResult(which, name, epoch, confusion_matrix(y, predicted, net.n_outputs), mistakes))
    spec = cfg.data.spec
    return Evaluation(run_dir, spec.title or cfg.data.dataset, data.source, part, results, X, spec.image)


# -- rendering -------------------------------------------------------------------------------------


def to_dict(ev: Evaluation) -> dict[str, Any]:
    """Plain data (accuracies as fractions in [0, 1], as ``nnlab report`` keeps them)."""
    return {
        "run": str(ev.run),
        "dataset": ev.dataset,
        "source": ev.source,
        "part": ev.part,
        "n": ev.results[0].n,
        "n_classes": ev.n_classes,
        "weights": {
            r.which: {
                "file": r.file,
                "epoch": r.epoch,
                "accuracy": r.accuracy,
                "correct": r.correct,
                "per_class_accuracy": r.per_class,
                "class_counts": r.class_counts,
                "confusion": r.confusion.tolist(),
                "most_confident_mistakes": [
                    {"index": i, "true": t, "predicted": p, "output": a} for i, t, p, a in r.mistakes
                ],
            }
            for r in ev.results
        },
    }


def save(ev: Evaluation) -> list[Path]:
    """Write ``evaluation.json`` and ``evaluation-mistakes.npz`` into the run directory (each atomic); the paths.

    The npz holds, per weights, ``X_<which>``: the examples of its listed mistakes
    (rows as the network saw them), and ``image``: one example's ``(channels,
    height, width)``, empty when the examples are flat vectors.
    """
    from nnlab.io import atomic_write_json, save_npz

    doc = to_dict(ev)
    doc["image"] = list(ev.image) if ev.image else None
    doc["mistakes_file"] = MISTAKES_FILE
    arrays: dict[str, np.ndarray] = {"image": np.asarray(ev.image or (), dtype=np.int64)}
    for r in ev.results:
        rows = [i for i, _, _, _ in r.mistakes]
        X = np.asarray(ev.X)[rows] if ev.X is not None else np.zeros((0, 0))
        arrays[f"X_{r.which}"] = X.reshape(len(rows), -1)
    paths = [ev.run / MISTAKES_FILE, ev.run / EVALUATION_FILE]
    try:
        save_npz(paths[0], arrays)  # first: an evaluation.json never names images that are not there yet
        atomic_write_json(paths[1], doc)
    except OSError as e:
        raise UserError(f"{ev.run}: cannot save the evaluation ({e.strerror or e})") from None
    return paths


def to_json(ev: Evaluation) -> str:
    return json.dumps(to_dict(ev), indent=2) + "\n"


def to_csv(ev: Evaluation) -> str:
    """One row per weights and true class: its count, correct, accuracy and the row of the confusion matrix."""
    k = ev.n_classes
    heads = ["weights", "epoch", "class", "n", "correct", "accuracy", *(f"predicted_{j}" for j in range(k))]
    values = [
        [r.which, r.epoch, i, int(r.class_counts[i]), int(r.confusion[i, i]), r.per_class[i], *r.confusion[i].tolist()]
        for r in ev.results
        for i in range(k)
    ]
    return table_csv(Table("evaluation", [Column(h) for h in heads], [[str(v) for v in row] for row in values], values))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def headline(ev: Evaluation, r: WeightsResult) -> str:
    epoch = f"epoch {r.epoch}" if r.epoch is not None else "epoch unknown"
    return f"{r.which} weights ({r.file}, {epoch}): {ev.part} accuracy {_pct(r.accuracy)}% ({r.correct}/{r.n})"


def tables(ev: Evaluation) -> list[Table]:
    """Per-class accuracy, then one confusion matrix per weights (nnlab.tables)."""
    k = ev.n_classes
    out = [
        Table(
            "accuracy per class (%)",
            [Column(h) for h in ["class", "n", *(r.which for r in ev.results)]],
            [[str(i), str(ev.results[0].class_counts[i]), *(_pct(r.per_class[i]) for r in ev.results)]
             for i in range(k)],
        )
    ]  # fmt: skip
    for r in ev.results:
        if r is not ev.results[0] and np.array_equal(r.confusion, ev.results[0].confusion):
            continue  # the best epoch predicts as the last one did: one matrix says it
        same = len(ev.results) > 1 and all(np.array_equal(o.confusion, r.confusion) for o in ev.results)
        which = "final and best weights" if same else f"{r.which} weights"
        rows = [[str(i), *(str(int(c)) for c in r.confusion[i])] for i in range(k)]
        out.append(Table(f"confusion matrix, {which} (rows: true class, columns: predicted)",
                         [Column(h) for h in ["true", *map(str, range(k))]], rows))  # fmt: skip
    return out


def to_markdown(ev: Evaluation) -> str:
    lines = [f"# {ev.run.name}: {ev.part} part of {ev.dataset}", "", f"Data from {ev.source}.", ""]
    lines += [f"- {headline(ev, r)}" for r in ev.results] + [""]
    for t in tables(ev):
        lines += [f"## {t.title[0].upper()}{t.title[1:]}", "", md_table(t), ""]
    return "\n".join(lines)


def render(ev: Evaluation, fmt: str) -> str:
    """md, csv or json text; "table" is plain text for a file."""
    if fmt == "md":
        return to_markdown(ev)
    if fmt == "csv":
        return to_csv(ev)
    if fmt == "json":
        return to_json(ev)
    lines = [f"{ev.run}: {ev.part} part, data from {ev.source}"] + [headline(ev, r) for r in ev.results]
    for t in tables(ev):
        lines += ["", t.title, to_text(t)]
    return "\n".join(lines) + "\n"
