"""R6's question (docs/reproductions.md#r6): do a conv net's early layers learn slower, like a deep FC net's?

    python scripts/r6_speed.py FC_RUN CONV_RUN [--out docs/figures/r6-speed-of-learning.png]

FC_RUN is a run of `nnlab train conv/r6-fc-deep` (784-100-100-100-10, sigmoid),
CONV_RUN one of the two-conv-layer sigmoid net (`nnlab train conv/r6-conv2`, or
a member of `nnlab sweep r6`): both as deep (three hidden layers with weights,
then softmax) and trained under the same protocol.

Draws nnlab's speed-of-learning figure (‖δ^l‖ of each hidden layer against
epoch, log y) of each run in one panel, side by side on one shared y axis, and
prints the values behind it: ‖δ^l‖ per hidden layer after epoch 1 and at the
end, and the ratio of the last hidden layer's to the first's. Reads only the
run directories (nnlab.results).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnlab.errors import UserError
from nnlab.plotting.draw import draw, save
from nnlab.plotting.figures import speed_of_learning
from nnlab.plotting.spec import FigureSpec
from nnlab.results import load_run

OUT = Path("docs/figures/r6-speed-of-learning.png")


def table(runs) -> str:
    """Markdown: ‖δ^l‖ of each hidden layer after epoch 1 and at the last epoch, and last/first."""
    lines = [
        "| network | at | " + " | ".join(f"hidden layer {i}" for i in (1, 2, 3)) + " | last / first |",
        "|---|---|",
    ]
    lines[1] += "---:|" * 4
    for run in runs:
        data = run.gradients["delta_norm"]
        hidden = run.hidden_layers
        for label, pick in (("epoch 1", 1), (f"epoch {int(run.epochs[-1])}", int(run.epochs[-1]))):
            values = [float(data[l].values[list(data[l].epochs).index(pick)]) for l in hidden]
            cells = [f"{run.layer_label(l, short=True)}: {v:.3g}" for l, v in zip(hidden, values)]
            lines.append(
                f"| {run.architecture} | {label} | " + " | ".join(cells) + f" | {values[-1] / values[0]:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs=2, metavar="RUN_DIR")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        runs = [load_run(p) for p in args.runs]
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    panels = []
    for run in runs:
        panel = speed_of_learning(run).panels[0]
        act = (run.config.get("model") or {}).get("activation")
        panel.title = f"{run.architecture}, {act}"
        panels.append(panel)
    panels[1].ylabel = ""
    spec = FigureSpec(
        "r6_speed_of_learning",
        "Speed of learning, three hidden layers: fully connected vs convolutional (log y, shared)",
        panels,
        ncols=2,
        panel_size=(6.5, 4.6),
        sharey=True,
    )
    print(table(runs))
    print(f"figure: {save(draw(spec), args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
