"""Writes docs/notebooks/vanishing-gradient.ipynb, without outputs (its cells are kept here to be reviewed).

    python scripts/make_notebook.py

tests/test_notebook.py executes the notebook and checks it matches this script.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell(
        """# The vanishing gradient, from a run directory

This notebook reads a run that `nnlab train` wrote and re-draws Nielsen's
*speed of learning* figure (*Neural Networks and Deep Learning*, ch. 5): in a
deep sigmoid network the gradient ‖δˡ‖ = ‖∂C/∂bˡ‖ of the early hidden layers
is much smaller than that of the late ones, so the early layers learn slower.

Set `NNLAB_RUN` to a run directory of your own (for example one of
`nnlab train nielsen/r1 --set "model.sizes=[784,30,30,30,30,10]"`), or leave
it unset: the next cell then trains a small four-hidden-layer sigmoid net on
nnlab's embedded 5,000-image MNIST subset (a few seconds, no download)."""
    ),
    new_code_cell(
        """%matplotlib inline
import os

import nnlab
from nnlab.config import load_config
from nnlab.experiment import run_experiment
from nnlab.shipped import find

RUN = os.environ.get("NNLAB_RUN")
if RUN is None:
    quickstart = str(find("quickstart", "config").path)
    cfg = load_config(quickstart, ["model.sizes=[784,30,30,30,30,10]", "training.epochs=5"])
    RUN = run_experiment(cfg, display="quiet").run_dir
run = nnlab.load_run(RUN)
print(run.path, run.architecture, run.status)"""
    ),
    new_markdown_cell("The per-epoch metrics (metrics.csv) as a pandas DataFrame:"),
    new_code_cell('run.metrics_df[["epoch", "train_loss", "validation_accuracy", "test_accuracy"]]'),
    new_markdown_cell(
        """The gradients, in tidy long form (gradients.csv: one row per step, layer
and quantity). `delta_norm` is ‖δˡ‖ on a fixed probe set of 1,000 training
images; one row per layer at initialization (epoch 0) and at each epoch's end.
Pivoted to one column per layer:"""
    ),
    new_code_cell(
        """delta = run.gradients_df.query("quantity == 'delta_norm'").pivot(index="epoch", columns="label", values="value")
hidden = [c for c in delta.columns if c != "output"]
delta[hidden]"""
    ),
    new_markdown_cell(
        "How many times faster the last hidden layer learns than the first, epoch by epoch (the ratio of their ‖δˡ‖):"
    ),
    new_code_cell(
        """ratio = delta[hidden[-1]] / delta[hidden[0]]
for epoch, r in ratio.items():
    print(f"epoch {epoch}: ‖δ‖ of {hidden[-1]} / ‖δ‖ of {hidden[0]} = {r:.1f}")"""
    ),
    new_markdown_cell("nnlab's own figure (the one `nnlab plot` writes), as a matplotlib Figure:"),
    new_code_cell('nnlab.plotting.figure("speed_of_learning", run)'),
    new_markdown_cell(
        """Or draw it yourself from the DataFrame. The axis is logarithmic: the layers
differ by factors, and on a linear axis the early layers would sit on zero."""
    ),
    new_code_cell(
        """ax = delta[hidden].plot(logy=True, marker="o", figsize=(7, 4.5))
ax.set_xlabel("epoch")
ax.set_ylabel("‖δˡ‖ (log scale)")
ax.set_title(f"Speed of learning, {run.architecture}");"""
    ),
]
nb = new_notebook(
    cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
)
NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "vanishing-gradient.ipynb"

if __name__ == "__main__":
    nbformat.write(nb, NOTEBOOK)
