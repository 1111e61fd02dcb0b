"""nnlab evaluate: a finished run's accuracy with final and best weights, per class, confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnlab.cli.main import cli
from nnlab.config import load_config
from nnlab.evaluation import confusion_matrix, evaluate_run
from nnlab.experiment import run_experiment
from nnlab.plotting import RUN_FIGURES, SkipFigure, run_specs
from nnlab.plotting.draw import draw
from nnlab.results import load_run


def invoke(*args: str):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)])


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return 3.0 * np.eye(3, 4)[y] + rng.normal(scale=1.4, size=(n, 4)), y


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run on three overlapping blobs (accuracy well above chance, below 100%)."""
    tmp = tmp_path_factory.mktemp("eval")
    X, y = blobs(300, 0)
    np.savez(tmp / "blobs.npz", X_train=X[:200], y_train=y[:200], X_validation=X[200:250],
             y_validation=y[200:250], X_test=X[250:], y_test=y[250:])  # fmt: skip
    cfg = {
        "name": "blobs",
        "model": {"sizes": [4, 6, 3], "output": "softmax", "cost": "log_likelihood"},
        "optimizer": {"name": "sgd", "learning_rate": 2.0},  # large: validation accuracy wanders
        "training": {"epochs": 6, "batch_size": 10},
        "instruments": {"probe_size": 50},
        "data": {"dataset": "npz", "path": str(tmp / "blobs.npz")},
    }
    return run_experiment(load_config(cfg), runs_dir=tmp / "runs", display="quiet").run_dir


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_confusion_matrix_by_hand():
    y = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    assert confusion_matrix(y, p, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_accuracies_are_those_training_recorded_for_the_final_and_best_epochs(run):
    ev = evaluate_run(run)
    final, best = ev.results
    s = summary(run)
    assert (final.which, final.epoch, best.which, best.epoch) == ("final", 6, "best", s["best"]["epoch"])
    assert final.accuracy == s["final"]["test_accuracy"]  # measured independently, by the training loop
    assert best.accuracy == s["best"]["test_accuracy"]
    assert final.n == 50 and final.class_counts == [16, 17, 17]
    for r in (final, best):
        assert r.per_class == [r.confusion[i, i] / r.class_counts[i] for i in range(3)]
    validation = evaluate_run(run, part="validation")
    assert validation.results[0].accuracy == s["final"]["validation_accuracy"]


def test_another_dataset_by_file(run, tmp_path):
    X, _ = blobs(30, 5)
    other = tmp_path / "other.npz"
    # every test label 0: accuracy is the share predicted 0; classes 1, 2 have no example
    np.savez(other, X_train=X, y_train=np.arange(30) % 3, X_test=X, y_test=np.zeros(30, np.int64))
    ev = evaluate_run(run, data_file=other)
    final = ev.results[0]
    assert final.class_counts == [30, 0, 0] and final.per_class[1:] == [None, None]
    predicted = final.confusion[0]
    assert final.accuracy == predicted[0] / 30 and predicted.sum() == 30
    out = invoke(run, "--data", other, "--format", "csv", "--no-save")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0] == "weights,epoch,class,n,correct,accuracy,predicted_0,predicted_1,predicted_2"
    assert lines[1] == f"final,6,0,30,{predicted[0]},{int(predicted[0]) / 30!r},{','.join(map(str, predicted))}"
    assert lines[2] == "final,6,1,0,0,,0,0,0"


def test_json_and_file_output_follow_report_formats(run, tmp_path):
    out = invoke(run, "--format", "json")
    data = json.loads(out.stdout)
    assert data["part"] == "test" and data["n"] == 50 and data["n_classes"] == 3
    assert data["weights"]["final"]["accuracy"] == summary(run)["final"]["test_accuracy"]
    assert np.array(data["weights"]["best"]["confusion"]).sum() == 50
    target = tmp_path / "eval.md"
    out = invoke(run, "--output", target)
    assert out.exit_code == 0 and out.stdout == f"{target}\n"
    assert target.read_text().startswith(f"# {run.name}: test part of blobs.npz")
    out = invoke(run, "--output", tmp_path / "eval.md", "--format", "json")
    assert out.exit_code == 2 and "does not match the extension '.md'" in out.output


def test_table_shows_both_weights_and_the_matrices(run):
    out = invoke(run)
    assert out.exit_code == 0, out.output
    s = summary(run)
    acc = 100 * s["final"]["test_accuracy"]
    assert f"final weights (weights.npz, epoch 6): test accuracy {acc:.2f}%" in out.output
    assert "accuracy per class (%)" in out.output and "confusion matrix" in out.output


def test_data_that_does_not_fit_the_network_is_one_line_each(run, tmp_path):
    other = tmp_path / "five.npz"
    X = np.zeros((10, 5))
    np.savez(other, X_train=X, y_train=np.arange(10) % 2)
    out = invoke(run, "--data", other)
    assert out.exit_code == 2
    assert out.output.splitlines() == [
        f"error: {run}/config.yaml: model.sizes[0]: got 4; must be 5 (the values of one example in five.npz)",
        f"error: {run}/config.yaml: model.sizes[2]: got 3; must be 2 (the classes of five.npz)",
    ]


def test_bad_input_is_one_line(run, tmp_path):
    out = invoke(run, "--set", "model.sizes=[4,3]")
    assert (out.exit_code, out.output) == (
        2,
        "error: --set model.sizes=[4,3]: evaluate takes data.* keys only; the network is the run's own\n",
    )
    out = invoke(tmp_path)
    assert out.exit_code == 2 and out.output.startswith(f"error: {tmp_path}: not a run directory (no meta.json)")
    out = invoke(run, "--data", tmp_path / "x.txt")
    assert out.output.startswith(f"error: {tmp_path / 'x.txt'}: --data reads a .npz or .csv file")


def test_weights_holding_python_objects_are_refused_not_unpickled(run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    np.savez(copy / "weights.npz", W1=np.array([{}], dtype=object))
    out = invoke(copy)
    assert out.exit_code == 2
    assert out.output.startswith(f"error: {copy / 'weights.npz'}: cannot be loaded into the run's network (")


def test_mistakes_are_the_wrong_predictions_most_confident_first(run):
    ev = evaluate_run(run)
    final = ev.results[0]
    assert 0 < len(final.mistakes) == final.n - final.correct  # fewer than 25 here: all of them
    y_test = np.load(run.parent.parent / "blobs.npz")["y_test"]
    outputs = [a for _, _, _, a in final.mistakes]
    assert outputs == sorted(outputs, reverse=True) and all(1 / 3 <= a <= 1 for a in outputs)
    for i, true, predicted, _ in final.mistakes:
        assert true == y_test[i] != predicted and final.confusion[true, predicted] > 0
    assert ev.X.shape == (50, 4) and ev.image is None


# --- saved into the run directory; nnlab plot draws it ------------------------------------------


def copy_of(run: Path, tmp_path: Path) -> Path:
    import shutil

    copy = Path(shutil.copytree(run, tmp_path / run.name))
    for name in ("evaluation.json", "evaluation-mistakes.npz"):  # other tests evaluate the shared run
        (copy / name).unlink(missing_ok=True)
    return copy


def test_evaluate_saves_its_result_for_plot_and_no_save_does_not(run, tmp_path):
    X_test = np.load(run.parent.parent / "blobs.npz")["X_test"]
    run = copy_of(run, tmp_path)
    out = invoke(run, "--no-save")
    assert out.exit_code == 0 and not (run / "evaluation.json").exists()
    assert not (run / "evaluation-mistakes.npz").exists()
    out = invoke(run, "--format", "json")
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    saved = json.loads((run / "evaluation.json").read_text())
    assert {k: v for k, v in saved.items() if k not in ("image", "mistakes_file")} == printed
    assert saved["image"] is None and saved["mistakes_file"] == "evaluation-mistakes.npz"
    assert out.stderr == (
        f"saved {run / 'evaluation-mistakes.npz'}, {run / 'evaluation.json'} (nnlab plot {run} draws them)\n"
    )
    arrays = np.load(run / "evaluation-mistakes.npz", allow_pickle=False)
    for which in ("final", "best"):
        rows = [m["index"] for m in saved["weights"][which]["most_confident_mistakes"]]
        np.testing.assert_allclose(arrays[f"X_{which}"], X_test[rows].astype(arrays[f"X_{which}"].dtype))
    assert arrays["image"].shape == (0,)


def test_plot_skips_the_evaluation_figures_with_a_note_until_evaluate_ran(run, tmp_path):
    run = copy_of(run, tmp_path)
    for name in ("confusion_matrix", "misclassified"):
        with pytest.raises(SkipFigure) as skip:
            RUN_FIGURES[name](load_run(run))
        what = "confusion matrix" if name == "confusion_matrix" else "misclassified examples"
        assert str(skip.value) == f"{what}: skipped, the run has no evaluation.json (run nnlab evaluate {run} first)"
    out = CliRunner().invoke(cli, ["plot", str(run), "-o", str(tmp_path / "p")])
    assert out.exit_code == 0
    assert f"note: confusion matrix: skipped, the run has no evaluation.json (run nnlab evaluate {run} first)" in (
        out.stderr
    )


def test_confusion_figure_shows_the_saved_counts_and_class_accuracies(run, tmp_path):
    run = copy_of(run, tmp_path)
    assert invoke(run).exit_code == 0
    saved = json.loads((run / "evaluation.json").read_text())
    spec = RUN_FIGURES["confusion_matrix"](load_run(run))
    weights = saved["weights"]
    same = weights["final"]["confusion"] == weights["best"]["confusion"]
    assert [p.title.split(" (")[0] for p in spec.panels] == (
        ["final and best weights"] if same else ["final weights", "best weights"]
    )
    for panel, which in zip(spec.panels, ("final", "best")):
        (image,) = panel.series
        w = weights[which]
        assert image.kind == "image" and image.y.tolist() == w["confusion"]
        counts = np.array(w["confusion"])
        # colour: each count's share of its true class
        np.testing.assert_allclose(image.style["colors"], counts / counts.sum(axis=1, keepdims=True))
        for i in range(3):
            for j in range(3):
                cell = image.style["cell_text"][i][j]
                if i == j:
                    assert cell == f"{counts[i, i]}\n{100 * w['per_class_accuracy'][i]:.1f}%"
                else:
                    assert cell == (str(counts[i, j]) if counts[i, j] else "")
        assert f"accuracy {100 * w['accuracy']:.1f}%" in panel.title
        assert f"epoch {w['epoch']}" in panel.title
    draw(spec)  # draws (Agg), no error


def test_misclassified_vectors_are_skipped_with_a_note(run, tmp_path):
    run = copy_of(run, tmp_path)
    assert invoke(run).exit_code == 0
    specs, notes = run_specs(load_run(run))
    assert "confusion_matrix" in [s.name for s in specs]
    assert "misclassified examples: skipped, the examples are flat vectors of 4 values, not images" in notes


def test_misclassified_images_are_drawn_with_their_true_and_predicted_class(tmp_path):
    """A run on 4x5 grey images: each panel is the example the saved mistake names, in its own shape."""
    rng = np.random.default_rng(3)
    y = np.arange(240) % 3
    X = rng.normal(scale=1.5, size=(240, 4, 5)) + y[:, None, None] * np.linspace(-1, 1, 5)[None, None, :]
    np.savez(tmp_path / "imgs.npz", X_train=X[:160], y_train=y[:160], X_validation=X[160:200],
             y_validation=y[160:200], X_test=X[200:], y_test=y[200:])  # fmt: skip
    cfg = {
        "name": "imgs",
        "model": {"sizes": [20, 5, 3], "output": "softmax", "cost": "log_likelihood"},
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "training": {"epochs": 2, "batch_size": 10},
        "instruments": {"probe_size": 20},
        "data": {"dataset": "npz", "path": str(tmp_path / "imgs.npz")},
    }
    run = run_experiment(load_config(cfg), runs_dir=tmp_path / "runs", display="quiet").run_dir
    assert invoke(run, "--no-save").exit_code == 0 and not (run / "evaluation.json").exists()
    assert invoke(run).exit_code == 0
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["image"] == [1, 4, 5]
    mistakes = saved["weights"]["final"]["most_confident_mistakes"]
    assert mistakes, "the test wants a run that gets some test examples wrong"
    spec = RUN_FIGURES["misclassified"](load_run(run))
    assert len(spec.panels) == len(mistakes)
    X_test = evaluate_run(run).X  # as the network saw them
    for panel, m in zip(spec.panels, mistakes):
        assert panel.title == f"true {m['true']}, predicted {m['predicted']}\nconfidence {m['output']:.2f}"
        np.testing.assert_allclose(panel.series[0].y, X_test[m["index"]].reshape(4, 5))
    out = CliRunner().invoke(cli, ["plot", str(run)])
    assert out.exit_code == 0, out.output
    assert {"confusion_matrix.png", "misclassified.png"} <= {p.name for p in (run / "plots").iterdir()}


def test_an_html_file_is_refused_with_the_report_command_to_use(run, tmp_path):
    out = invoke(run, "-o", tmp_path / "e.html")
    assert (out.exit_code, out.output) == (
        2,
        f"error: {tmp_path / 'e.html'}: nnlab evaluate writes a table, md, csv or json; the HTML report is"
        f" nnlab report {run} -o report.html (it shows the saved evaluation)\n",
    )
    assert not (tmp_path / "e.html").exists()
