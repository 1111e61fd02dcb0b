"""Figures of a run's saved evaluation (``nnlab evaluate RUN`` writes it; ``nnlab plot RUN`` draws it).

``confusion_matrix``: the counts of true class (rows) against predicted class
(columns), each cell coloured by its share of the true class, the diagonal
also giving the accuracy on the class. ``misclassified``: the examples the
final weights got wrong with the highest output, as images (true class,
predicted class and that output in each title). Numbers come from
``evaluation.json`` and ``evaluation-mistakes.npz`` as saved; without them
the figures are skipped with a note saying how to make them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.errors import UserError
from nnlab.plotting.spec import FigureSpec, Panel, Series, SkipFigure
from nnlab.results import EVALUATION_FILE, MISTAKES_FILE, Run


def _evaluation(run: Run, what: str) -> dict[str, Any]:
    try:
        doc = run.evaluation()
    except UserError as e:
        raise SkipFigure(f"{what}: skipped, {e}; run nnlab evaluate {run.path} again") from None
    if doc is None:
        raise SkipFigure(f"{what}: skipped, the run has no {EVALUATION_FILE} (run nnlab evaluate {run.path} first)")
    return doc


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _cell_texts(counts: np.ndarray, per_class: list[float | None]) -> list[list[str]]:
    """Each cell's count (blank for 0); on the diagonal also the accuracy on the class."""
    k = len(counts)
    return [
        [
            f"{int(counts[i, j])}\n{_pct(per_class[i])}" if i == j else (str(int(counts[i, j])) if counts[i, j] else "")
            for j in range(k)
        ]
        for i in range(k)
    ]


def confusion_matrix(run: Run) -> FigureSpec:
    """One panel per set of weights (final, best; one when both predict alike): counts, row share as colour."""
    doc = _evaluation(run, "confusion matrix")
    panels: list[Panel] = []
    shown: list[np.ndarray] = []
    for which, w in doc["weights"].items():
        counts = np.asarray(w["confusion"], dtype=np.int64)
        if any(np.array_equal(counts, c) for c in shown):
            panels[-1].title = panels[-1].title.replace("final weights", "final and best weights", 1)
            continue
        shown.append(counts)
        k = len(counts)
        n_true = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, n_true, out=np.zeros(counts.shape), where=n_true > 0)
        epoch = f"epoch {w['epoch']}" if w.get("epoch") is not None else "epoch unknown"
        ticks = [(float(i), str(i)) for i in range(k)]
        panels.append(
            Panel(
                title=f"{which} weights ({epoch}): accuracy {_pct(w['accuracy'])}",
                xlabel="predicted class",
                ylabel="true class",
                series=[
                    Series(
                        None,
                        np.arange(k),
                        counts,
                        kind="image",
                        style={
                            "colors": share,
                            "cell_text": _cell_texts(counts, w["per_class_accuracy"]),
                            "cmap": "Blues",
                            "vmin": 0.0,
                            "vmax": 1.0,
                        },
                    )
                ],
                xticks=ticks,
                yticks=ticks,
            )
        )
    k = len(shown[0])
    side = max(4.0, 0.55 * k + 1.5)
    return FigureSpec(
        "confusion_matrix",
        f"{run.name}: confusion matrix, {doc.get('part', 'test')} part of {doc.get('dataset', '?')}"
        f" ({doc.get('n', '?')} examples)\ncolour: share of the true class; diagonal: count and accuracy on the class",
        panels,
        ncols=len(panels),
        panel_size=(side, side),
    )


def misclassified(run: Run) -> FigureSpec:
    """The final weights' most confident mistakes as images, most confident first."""
    what = "misclassified examples"
    doc = _evaluation(run, what)
    which = "final" if "final" in doc["weights"] else next(iter(doc["weights"]))
    mistakes = doc["weights"][which].get("most_confident_mistakes") or []
    image = doc.get("image")
    if not mistakes:
        raise SkipFigure(f"{what}: skipped, the {which} weights misclassify no example of the {doc.get('part')} part")
    try:
        X = run.mistake_inputs(which)
    except UserError as e:
        raise SkipFigure(f"{what}: skipped, {e}; run nnlab evaluate {run.path}") from None
    if not image:
        d = X.shape[1] if X.ndim == 2 else "?"
        raise SkipFigure(f"{what}: skipped, the examples are flat vectors of {d} values, not images")
    c, h, w = (int(v) for v in image)
    if len(X) != len(mistakes) or X.shape[1] != c * h * w:
        raise SkipFigure(
            f"{what}: skipped, {run.path / MISTAKES_FILE} does not match {EVALUATION_FILE}; run nnlab evaluate {run.path}"
        )
    panels = []
    for row, m in zip(X, mistakes):
        img = row.reshape(c, h, w)
        img = img[0] if c == 1 else np.moveaxis(img, 0, -1)
        if c != 1:  # colour: each image scaled into [0, 1] for display
            span = img.max() - img.min()
            img = (img - img.min()) / (span if span else 1.0)
        panels.append(
            Panel(
                title=f"true {m['true']}, predicted {m['predicted']}\nconfidence {m['output']:.2f}",
                xlabel="",
                ylabel="",
                series=[Series(None, np.arange(w), img, kind="image", style={"cmap": "gray_r"})],
            )
        )
    epoch = doc["weights"][which].get("epoch")
    return FigureSpec(
        "misclassified",
        f"{run.name}: the {len(panels)} most confidently misclassified {doc.get('part', 'test')} examples\n"
        f"{which} weights{f', epoch {epoch}' if epoch is not None else ''}; confidence: the output aᴸ of the"
        " predicted class",
        panels,
        ncols=min(len(panels), 5),
        panel_size=(1.9, 2.2),
        layout="grid",
    )
