"""nnlab plot: figures from run and sweep directories.

Plotted values are checked against the CSV files (read here with the csv
module, independently of nnlab.results) in the FigureSpec and in the
matplotlib artists drawn from it; files are checked for their signature and
a plausible size, not pixels.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from synthetic_runs import delta, write_run, write_sweep

from nnlab.cli.main import cli
from nnlab.plotting import figures
from nnlab.plotting.draw import draw
from nnlab.plotting.spec import SkipFigure
from nnlab.results import group, load_run, load_sweep

PNG = b"\x89PNG\r\n\x1a\n"
RUN_FIGURES = ["speed_of_learning", "gradient_norms", "accuracy", "activation_health", "update_ratio"]


def long_csv(path: Path, quantity: str) -> dict[int, tuple[list[int], list[float]]]:
    out: dict[int, tuple[list[int], list[float]]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["quantity"] == quantity:
                e, v = out.setdefault(int(row["layer"]), ([], []))
                e.append(int(row["epoch"]))
                v.append(float(row["value"]))
    return out


def metrics_csv(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) if r[k] else math.nan for r in rows] for k in rows[0]}


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG, path
    assert len(data) > 5_000, (path, len(data))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("plot") / "run")


@pytest.fixture(scope="module")
def plotted(run_dir):
    """`nnlab plot RUN_DIR` once for the module."""
    result = CliRunner().invoke(cli, ["plot", str(run_dir)])
    return result


def test_plot_writes_every_figure(run_dir, plotted):
    assert plotted.exit_code == 0, plotted.output
    paths = [Path(p) for p in plotted.stdout.split()]
    evaluation = ("confusion_matrix", "misclassified")  # drawn once nnlab evaluate saved its result
    assert paths == [run_dir / "plots" / f"{name}.png" for name in RUN_FIGURES if name not in evaluation]
    for p in paths:
        assert_png(p)
    assert plotted.stderr.splitlines() == [
        f"note: {what}: skipped, the run has no evaluation.json (run nnlab evaluate {run_dir} first)"
        for what in ("confusion matrix", "misclassified examples")
    ]


def test_speed_of_learning_values(run_dir):
    run = load_run(run_dir)
    spec = figures.speed_of_learning(run)
    panel = spec.panels[0]
    assert panel.title == "Speed of learning: 3 hidden layers"
    assert panel.logy and "epoch" in panel.xlabel and "‖δˡ‖" in panel.ylabel
    assert panel.labels == ["hidden layer 1", "hidden layer 2", "hidden layer 3"]  # output layer not a hidden layer
    csv_values = long_csv(run_dir / "gradients.csv", "delta_norm")
    for l, s in enumerate(panel.series, start=1):
        epochs, values = csv_values[l]
        assert same(s.x, epochs) and same(s.y, values)
    # what matplotlib received
    ax = draw(spec).axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "Speed of learning: 3 hidden layers"
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == panel.labels
    for l, ln in enumerate(lines, start=1):
        assert same(ln.get_xdata(), csv_values[l][0]) and same(ln.get_ydata(), csv_values[l][1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == panel.labels


def test_gradient_norm_bars(run_dir):
    run = load_run(run_dir)
    spec = figures.gradient_norms(run)
    csv_values = long_csv(run_dir / "gradients.csv", "delta_norm")
    initial = [csv_values[l][1][0] for l in range(1, 5)]
    final = [csv_values[l][1][-1] for l in range(1, 5)]
    assert initial == [delta(l, 0) for l in range(1, 5)]
    assert same(spec.panels[0].series[0].y, initial) and same(spec.panels[1].series[0].y, final)
    assert "epoch 4" in spec.panels[1].title
    fig = draw(spec)
    for ax, expect in zip(fig.axes, (initial, final)):
        assert ax.get_yscale() == "log"
        assert same([p.get_height() for p in ax.patches], expect)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["hidden 1", "hidden 2", "hidden 3", "output"]


def test_accuracy_values_and_best_epoch(run_dir):
    run = load_run(run_dir)
    spec = figures.accuracy(run)
    m = metrics_csv(run_dir / "metrics.csv")
    acc, loss = spec.panel("Accuracy"), spec.panel("Loss")
    for name, label in (("train", "train (probe)"), ("validation", "validation"), ("test", "test")):
        assert same(acc.get(label).y, m[f"{name}_accuracy"]) and same(acc.get(label).x, m["epoch"])
        assert same(loss.get(label).y, m[f"{name}_loss"])
    assert math.isnan(acc.get("train (probe)").y[2])  # the empty cell stays a gap
    assert acc.vlines == [(3.0, f"best epoch 3 (validation {m['validation_accuracy'][3]:.2%})")]
    assert loss.vlines == acc.vlines
    ax = draw(spec).axes[0]
    assert same(ax.get_lines()[1].get_ydata(), m["validation_accuracy"])
    assert "%" in ax.get_ylabel()


def test_activation_health_and_update_ratio(run_dir, tmp_path):
    run = load_run(run_dir)
    health = figures.activation_health(run)
    sat = long_csv(run_dir / "activations.csv", "saturated_fraction")
    panel = health.panel("Saturated units")
    assert panel.labels == ["hidden layer 1", "hidden layer 2", "hidden layer 3", "output layer"]
    for l, s in enumerate(panel.series, start=1):
        assert same(s.x, sat[l][0]) and same(s.y, sat[l][1])
    ratio = figures.update_ratio(run)
    ur = long_csv(run_dir / "gradients.csv", "update_ratio")
    for l, s in enumerate(ratio.panels[0].series, start=1):
        assert same(s.x, ur[l][0]) and same(s.y, ur[l][1])
    assert ratio.panels[0].logy

    relu = load_run(write_run(tmp_path / "relu", activation="relu"))
    spec = figures.activation_health(relu)
    dead = long_csv(tmp_path / "relu" / "activations.csv", "dead_fraction")
    assert [p.title for p in spec.panels] == ["Dead units per layer"]
    assert same(spec.panels[0].series[0].y, dead[1][1])


def test_instrument_off_still_plots_the_rest(tmp_path):
    run_dir = write_run(tmp_path / "run", gradients=False, batch_stats=False)
    result = CliRunner().invoke(cli, ["plot", str(run_dir)])
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in result.stdout.split()]
    assert [p.stem for p in paths] == ["accuracy", "activation_health"]
    for p in paths:
        assert_png(p)
    notes = result.stderr.splitlines()
    assert len(notes) == 5 and all(n.startswith("note: ") for n in notes)
    assert all("run nnlab evaluate" in n for n in notes[3:])  # no saved evaluation
    assert "speed of learning: skipped" in notes[0] and "instruments.gradients" in notes[0]
    assert "update ratio: skipped" in notes[2] and "instruments.batch_stats" in notes[2]
    with pytest.raises(SkipFigure):
        figures.speed_of_learning(load_run(run_dir))


def test_non_run_folder_exit_2(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "x.txt").write_text("hello")
    result = CliRunner().invoke(cli, ["plot", str(folder)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {folder}: not a run directory (no meta.json); give a folder written by `nnlab train`"
        " (runs/<stamp>-<name>/), a sweep folder or a folder holding runs\n"
    )
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["plot"])
    assert result.exit_code == 2 and result.stderr.startswith("error: give a run directory")


def test_unknown_format_exit_2(tmp_path):
    run_dir = write_run(tmp_path / "run", fmt=2)
    result = CliRunner().invoke(cli, ["plot", str(run_dir)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {run_dir}: run directory format 2 is not supported; this nnlab reads format 1\n"


def test_sweep_comparison(tmp_path):
    sweep_dir = write_sweep(tmp_path / "sweep", depths=(1, 2, 3), seeds=(0, 1, 2), unfinished=("m008",))
    sweep = load_sweep(sweep_dir)
    keys, groups = group(sweep)
    assert keys == ["model.sizes"] and [len(g.runs) for g in groups] == [3, 3, 2]
    spec = figures.compare_accuracy(keys, groups)
    panel = spec.panels[0]
    assert [lab for _, lab in panel.xticks] == ["784-30-10", "784-30-30-10", "784-30-30-30-10"]
    final = panel.get("final validation (mean ± std)")
    for g, mean, std in zip(groups, final.y, final.yerr):
        vals = [r.summary["final"]["validation_accuracy"] for r in g.runs]
        assert mean == pytest.approx(np.mean(vals)) and std == pytest.approx(np.std(vals, ddof=1))
    best = panel.get("best validation (mean ± std)")
    assert best.y[0] == pytest.approx(np.mean([r.summary["best"]["validation_accuracy"] for r in groups[0].runs]))

    dspec = figures.compare_initial_delta(keys, groups)
    dpanel = dspec.panels[0]
    assert dpanel.logy and dpanel.labels == [g.label for g in groups]
    deepest = dpanel.get("784-30-30-30-10")
    assert same(deepest.x, [1, 2, 3])  # hidden layers only
    assert deepest.y[0] == pytest.approx(np.mean([delta(1, 0, s) for s in (0, 1)]))

    result = CliRunner().invoke(cli, ["plot", str(sweep_dir), "--format", "pdf"])
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in result.stdout.split()]
    assert paths == [sweep_dir / "plots" / f"{name}.pdf" for name in figures.COMPARE_FIGURES]
    assert all(p.read_bytes()[:5] == b"%PDF-" for p in paths)
    assert "sweep member m008: skipped, unfinished" in result.stderr


def test_several_runs_grouped_by_what_differs(tmp_path):
    dirs = [
        write_run(tmp_path / f"r{i}", seed=i % 2, config_extra={"optimizer.learning_rate": lr})
        for i, lr in enumerate([0.1, 0.1, 0.5, 0.5])
    ]
    keys, groups = group([load_run(d) for d in dirs])
    assert keys == ["optimizer.learning_rate"] and [g.label for g in groups] == ["0.1", "0.5"]
    out = tmp_path / "cmp"
    result = CliRunner().invoke(cli, ["plot", *map(str, dirs), "--out", str(out), "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert [Path(p).name for p in result.stdout.split()] == [f"{name}.svg" for name in figures.COMPARE_FIGURES]
    assert (out / "compare_accuracy.svg").read_text().lstrip().startswith("<?xml")


def test_activation_functions_from_the_engine():
    from nnlab.activations import ACTIVATIONS, make_activation

    spec = figures.activation_functions()
    names = [p.title.split(" ")[0] for p in spec.panels]
    assert names == [n for n in ACTIVATIONS.names() if n != "softmax"]
    tanh = spec.panels[names.index("tanh")]
    z = tanh.get("f(z)").x
    assert z[0] == -5 and z[-1] == 5
    assert same(tanh.get("f(z)").y, np.tanh(z)) and same(tanh.get("f′(z)").y, 1 - np.tanh(z) ** 2)
    act = make_activation("swish")
    zz = z[None, :]
    assert same(spec.panels[names.index("swish")].get("f′(z)").y, act.df(zz, act.f(zz))[0])


def test_help_does_not_import_matplotlib():
    code = (
        "import sys; from click.testing import CliRunner; from nnlab.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0; "
        "r = CliRunner().invoke(cli, ['plot', '--help']); assert r.exit_code == 0, r.output; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_real_run(tmp_path):
    """`nnlab train` (tiny quickstart) then `nnlab plot --activations` on its run directory."""
    runs = tmp_path / "runs"
    config = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(config),
            "--runs-dir",
            str(runs),
            "-q",
            "--set",
            "training.epochs=2",
            "--set",
            "data.train_size=300",
            "--set",
            "instruments.probe_size=100",
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    result = CliRunner().invoke(cli, ["plot", str(run_dir), "--activations"])
    assert result.exit_code == 0, result.output
    paths = [Path(p) for p in result.stdout.split()]
    # a real run also has the default instruments' gradient flow and distance from initialization
    assert [p.stem for p in paths] == RUN_FIGURES + ["gradient_flow", "distance_from_init", "activations"]
    for p in paths:
        assert_png(p)
    run = load_run(run_dir)
    spec = figures.speed_of_learning(run)
    hidden = len(run.sizes) - 2
    assert spec.panels[0].title == f"Speed of learning: {hidden} hidden layer{'s' if hidden > 1 else ''}"
    csv_values = long_csv(run_dir / "gradients.csv", "delta_norm")
    for l, s in enumerate(spec.panels[0].series, start=1):
        assert same(s.y, csv_values[l][1])


def test_several_gradient_rows_per_epoch_use_fractional_epochs(tmp_path):
    """instruments.gradients_every_steps: rows between epochs land at step / steps-per-epoch."""
    run_dir = write_run(tmp_path / "r", epochs=2, steps_per_epoch=50)
    with open(run_dir / "gradients.csv", "a") as fh:
        for l in range(1, 5):
            fh.write(f"25,0,{l},delta_norm,{0.5 * l}\n")
    run = load_run(run_dir)
    s = figures.speed_of_learning(run).panels[0].get("hidden layer 2")
    assert list(zip(s.x.tolist(), s.y.tolist())) == [
        (0.0, delta(2, 0)),
        (0.5, 1.0),
        (1.0, delta(2, 1)),
        (2.0, delta(2, 2)),
    ]


def _tick_labels(fig):
    fig.canvas.draw()
    return [t for t in fig.axes[0].get_xticklabels() if t.get_text()]


def test_long_configuration_labels_are_drawn_one_key_a_line_and_never_overlap(tmp_path):
    # R4's sweep: four configurations labelled "sizes=784-100-...-10, epochs=30" drawn level overlapped
    groups = [
        figures.Group(
            {"model.sizes": [784] + [100] * d + [10], "training.epochs": 30 * (1 + d // 4)},
            [load_run(write_run(tmp_path / f"r{d}", sizes=[784] + [100] * d + [10]))],
        )
        for d in (1, 2, 3, 4)
    ]
    fig = draw(figures.compare_accuracy(["model.sizes", "training.epochs"], groups))
    labels = _tick_labels(fig)
    assert [t.get_text() for t in labels] == [g.label.replace(", ", "\n") for g in groups]
    assert labels[0].get_text() == "sizes=784-100-10\nepochs=30"
    # too long to stand level: slanted at 30 degrees, right end at the tick; parallel slanted
    # blocks are apart when the ticks' spacing times sin 30 exceeds a block's height (2 lines)
    assert all(t.get_rotation() == 30 and t.get_horizontalalignment() == "right" for t in labels)
    dpi_scale = fig.dpi / 72
    height = max(t.get_fontsize() * 1.2 * 2 * dpi_scale for t in labels)
    right = [t.get_window_extent().x1 for t in labels]
    assert all((b - a) * math.sin(math.radians(30)) > height for a, b in zip(right, right[1:]))


def test_short_configuration_labels_stay_level_and_apart(tmp_path):
    groups = [
        figures.Group(
            {"model.sizes": [784] + [30] * d + [10]},
            [load_run(write_run(tmp_path / f"r{d}", sizes=[784] + [30] * d + [10]))],
        )
        for d in (1, 2)
    ]
    labels = _tick_labels(draw(figures.compare_accuracy(["model.sizes"], groups)))
    assert [t.get_text() for t in labels] == ["784-30-10", "784-30-30-10"]
    assert all(t.get_rotation() == 0 for t in labels)
    a, b = (t.get_window_extent() for t in labels)
    assert not a.overlaps(b)


# -- comparisons: what differs, and lines only where they mean something ---------------------


def test_settings_of_another_optimizer_are_not_what_differs(tmp_path):
    sgd = {"optimizer": {"name": "sgd", "learning_rate": 0.5}}
    adam = {"optimizer": {"name": "adam", "learning_rate": 0.001, "rho1": 0.9, "rho2": 0.999, "delta": 1e-08}}
    runs = []
    for i, (opt, act) in enumerate([(sgd, "sigmoid"), (adam, "sigmoid"), (sgd, "relu")]):
        runs.append(
            load_run(write_run(tmp_path / f"r{i}", activation=act, config_extra={"optimizer": opt["optimizer"]}))
        )
    keys, groups = group(runs)
    assert keys == ["model.activation", "optimizer.learning_rate", "optimizer.name"]  # no rho1, rho2, delta
    assert [g.label for g in groups] == [
        "activation=sigmoid, learning_rate=0.5, optimizer=sgd",
        "activation=sigmoid, learning_rate=0.001, optimizer=adam",
        "activation=relu, learning_rate=0.5, optimizer=sgd",
    ]
    # unrelated configurations: their points are not joined by a line
    spec = figures.compare_accuracy(keys, groups)
    assert all(s.style.get("linestyle") == "none" for s in spec.panels[0].series if s.kind == "errorbar")


def test_a_setting_absent_in_one_run_and_set_in_another_is_what_differs_when_nothing_else_does(tmp_path):
    a = load_run(write_run(tmp_path / "a"))
    b = load_run(write_run(tmp_path / "b", config_extra={"regularization.clip_norm": 5.0}))
    keys, groups = group([a, b])
    assert keys == ["regularization.clip_norm"] and [g.label for g in groups] == ["none", "5"]


def test_a_two_key_sweep_draws_one_line_per_value_of_the_second_key(tmp_path):
    dirs = []
    for i, (sizes, init) in enumerate(
        [(s, w) for w in ("nielsen", "large") for s in ((784, 30, 10), (784, 30, 30, 10), (784, 30, 30, 30, 10))]
    ):
        for seed in (0, 1):
            dirs.append(
                write_run(tmp_path / f"r{i}-{seed}", sizes=sizes, seed=seed, config_extra={"model.init.weights": init})
            )
    keys, groups = group([load_run(d) for d in dirs])
    assert keys == ["model.init.weights", "model.sizes"]
    spec = figures.compare_accuracy(keys, groups)
    assert [p.title.split()[0] for p in spec.panels] == ["Final", "Best"]
    best = spec.panels[1]
    assert [lab for _, lab in best.xticks] == ["nielsen", "large"]  # the first key along x
    lines = [s for s in best.series if s.kind == "errorbar"]
    assert [s.label for s in lines] == ["784-30-10", "784-30-30-10", "784-30-30-30-10"]
    for s in lines:
        assert len(s.x) == 2 and s.style["linestyle"] == "none"  # init names are not ordered: no line between
        g = next(g for g in groups if g.point["model.sizes"] == [int(v) for v in s.label.split("-")])
        want = np.mean([r.summary["best"]["validation_accuracy"] for r in g.runs])
        assert s.y[0] == pytest.approx(want)


def test_overlays_draw_each_configurations_per_epoch_mean(tmp_path):
    from synthetic_runs import val_acc

    dirs = [
        write_run(tmp_path / f"{act}{seed}", activation=act, seed=seed, epochs=3)
        for act in ("sigmoid", "relu")
        for seed in (0, 1)
    ]
    keys, groups = group([load_run(d) for d in dirs])
    acc = figures.overlay_accuracy(keys, groups).panels[0]
    sig = acc.get("sigmoid (mean of 2)")
    assert same(sig.x, [0, 1, 2, 3])
    assert sig.y[2] == pytest.approx(np.mean([val_acc(2, 3, s) for s in (0, 1)]))
    speed = figures.overlay_speed_of_learning(keys, groups)
    assert [p.title for p in speed.panels] == [
        "hidden layer 1 (l = 1)",
        "hidden layer 2 (l = 2)",
        "hidden layer 3 (l = 3)",
    ]
    assert speed.sharey and all(p.logy for p in speed.panels)
    relu = speed.panels[1].get("relu (mean of 2)")
    assert relu.y[3] == pytest.approx(np.mean([delta(2, 3, s) for s in (0, 1)]))
