"""The diagnosis: each rule on small synthetic run data (thresholds at their edges), each on a shipped
config that provokes it through the CLI, a healthy run with no finding, --strict, diagnosis.json, report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_runs import write_run, write_sweep

from nnlab.cli.main import cli
from nnlab.diagnosis import RULES, STRICT_EXIT_CODE, THRESHOLDS, diagnose
from nnlab.results import load_run

ROOT = Path(__file__).resolve().parents[1]
LONG = "step,epoch,layer,quantity,value,label"


# --- synthetic runs -----------------------------------------------------------------


def run_with(
    tmp_path: Path,
    *,
    sizes=(784, 30, 30, 30, 10),
    deltas: dict[int, list[float]] | None = None,
    fractions: dict[int, list[float]] | None = None,
    quantity: str = "saturated_fraction",
    accuracy: list[tuple[float, float]] | None = None,
    status: str = "completed",
    summary_extra: dict | None = None,
    config_extra: dict | None = None,
    kinds: list[str] | None = None,
):
    """A run directory whose files hold exactly the given rows.

    deltas: epoch -> ||δ^l|| for l = 1..L (step = 10 * epoch); fractions: epoch -> one value per layer of
    ``quantity``; accuracy: (train, validation) per epoch 1..n (row 0, untrained, at 0.1 / 0.1).
    """
    path = write_run(tmp_path / "run", sizes=sizes, epochs=1, config_extra=config_extra)
    L = len(sizes) - 1
    kinds = kinds or ["dense"] * (L - 1) + ["output"]
    label = lambda l: kinds[l - 1] if kinds[l - 1] == "output" else f"{kinds[l - 1]}{l}"  # noqa: E731
    g = [LONG] + [
        f"{10 * e},{e},{l},delta_norm,{v!r},{label(l)}" for e, vs in (deltas or {}).items() for l, v in enumerate(vs, 1)
    ]
    (path / "gradients.csv").write_text("\n".join(g) + "\n")
    a = [LONG] + [
        f"{10 * e},{e},{l},{quantity},{v!r},{label(l)}"
        for e, vs in (fractions or {}).items()
        for l, v in enumerate(vs, 1)
    ]
    (path / "activations.csv").write_text("\n".join(a) + "\n")
    acc = [(0.1, 0.1)] + list(accuracy or [(0.9, 0.9)])
    rows = [
        "epoch,step,seconds,train_loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,lr"
    ]
    rows += [f"{e},{10 * e},0.1,1.0,{t!r},1.0,{v!r},1.0,{v!r},0.5" for e, (t, v) in enumerate(acc)]
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    summary = json.loads((path / "summary.json").read_text())
    summary.update(status=status, epochs_completed=len(acc) - 1, **(summary_extra or {}))
    (path / "summary.json").write_text(json.dumps(summary))
    return load_run(path)


def rules_of(run) -> list[str]:
    return [f.rule for f in diagnose(run)]


def test_every_rule_is_registered_and_documented():
    assert set(RULES.names()) == {
        "vanishing_gradient",
        "exploding_gradient",
        "dead_units",
        "saturated_units",
        "learning_stalled",
        "divergence",
        "overfitting",
    }
    assert {t.rule for t in THRESHOLDS.values()} <= set(RULES.names())


def test_docs_threshold_table_agrees_with_the_code():
    text = (ROOT / "docs" / "diagnosis.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([0-9.]+) \|", text, re.M))
    assert rows == {name: f"{t.value:g}" for name, t in THRESHOLDS.items()}
    for name in RULES.names():
        assert f"`{name}`" in text


def test_a_healthy_run_has_no_finding(tmp_path):
    run = run_with(
        tmp_path,
        deltas={0: [0.07, 0.3, 0.6, 1.5], 1: [0.1, 0.1, 0.1, 0.1]},  # 8.6x at initialization: below 10
        fractions={0: [0.1, 0.2, 0.3, 0.9], 1: [0.3, 0.3, 0.3, 0.95]},  # a saturated output layer is fine
        accuracy=[(0.8, 0.78), (0.9, 0.88), (0.95, 0.9)],
    )
    assert diagnose(run) == []


@pytest.mark.parametrize("first, found", [(0.05, True), (0.0500001, False)])
def test_vanishing_gradient_from_the_ratio_at_initialization(tmp_path, first, found):
    # ||δ^3|| / ||δ^1|| = 0.5 / 0.05 = 10: the threshold counts; later the layers even out
    run = run_with(tmp_path, deltas={0: [first, 0.1, 0.5, 1.0], 1: [0.1, 0.1, 0.1, 0.1]})
    (f,) = diagnose(run) or [None]
    assert (f is not None) == found
    if found:
        assert f.rule == "vanishing_gradient"
        assert f.message.startswith("hidden layer 1 learns 10x slower than hidden layer 3 at initialization")
        assert "0.05 against ||δ^3|| 0.5" in f.message
        assert f.evidence["ratio"] == pytest.approx(10.0)
        assert any("model.activation=relu" in r for r in f.remedies)


def test_vanishing_gradient_at_the_last_measurement(tmp_path):
    run = run_with(tmp_path, deltas={0: [0.1, 0.2, 0.4, 1.0], 1: [0.1, 0.2, 0.4, 1.0], 2: [0.001, 0.01, 0.1, 1.0]})
    (f,) = diagnose(run)
    assert "learns 100x slower than hidden layer 3 at epoch 2" in f.message


def test_vanishing_gradient_compares_layers_of_one_kind(tmp_path):
    # conv1, conv2, dense3, output: a conv layer's ||δ|| sums over positions; conv2 vs dense3 is not compared
    kinds = ["conv", "conv", "dense", "output"]
    run = run_with(
        tmp_path,
        deltas={0: [1.0, 2.0, 0.01, 1.0]},
        kinds=kinds,
        config_extra={
            "model.sizes": None,
            "model.layers": [
                {"kind": "conv2d", "filters": 4, "kernel": 5},
                {"kind": "conv2d", "filters": 4, "kernel": 5},
                {"kind": "dense", "units": 30},
                {"kind": "dense", "units": 10},
            ],
        },
    )
    assert diagnose(run) == []
    run = run_with(
        tmp_path / "b",
        deltas={0: [0.01, 2.0, 1.0, 1.0]},
        kinds=kinds,
        config_extra={
            "model.sizes": None,
            "model.layers": [
                {"kind": "conv2d", "filters": 4, "kernel": 5},
                {"kind": "maxpool2d"},
                {"kind": "conv2d", "filters": 4, "kernel": 5},
                {"kind": "dense", "units": 30},
                {"kind": "dense", "units": 10},
            ],
        },
    )
    (f,) = diagnose(run)
    assert f.message.startswith("conv layer 1 learns 200x slower than conv layer 2")


@pytest.mark.parametrize("first, found", [(10.0, True), (9.99, False)])
def test_exploding_gradient_across_layers(tmp_path, first, found):
    run = run_with(tmp_path, deltas={0: [first, 3.0, 1.0, 0.5]})
    assert rules_of(run) == (["exploding_gradient"] if found else [])


def test_exploding_gradient_growing_during_training(tmp_path):
    run = run_with(tmp_path, deltas={0: [0.1, 0.1, 0.1, 0.1], 1: [1.0, 1.0, 1.0, 1.0], 2: [10.0, 10.0, 10.0, 9.99]})
    (f,) = diagnose(run)
    assert f.rule == "exploding_gradient"
    assert "hidden layer 1's ||δ|| grew 100x during training (0.1 to 10)" in f.message
    run = run_with(tmp_path / "b", deltas={0: [0.1] * 4, 2: [9.99] * 4})
    assert diagnose(run) == []


@pytest.mark.parametrize("share, found", [(0.5, True), (0.49, False)])
def test_dead_units_share_of_a_hidden_layer(tmp_path, share, found):
    run = run_with(tmp_path, fractions={0: [0.0, 0.0, 0.0], 2: [share, 0.1, 0.0]}, quantity="dead_fraction")
    assert rules_of(run) == (["dead_units"] if found else [])
    if found:
        assert diagnose(run)[0].message.startswith(f"{100 * share:.0f}% of hidden layer 1's units are dead")
        assert "at epoch 2" in diagnose(run)[0].message


def test_dead_units_ignore_the_output_and_conv_layers(tmp_path):
    run = run_with(
        tmp_path,
        fractions={1: [0.9, 0.1, 0.1, 1.0]},
        quantity="dead_fraction",
        kinds=["conv", "dense", "dense", "output"],
        config_extra={
            "model.sizes": None,
            "model.layers": [
                {"kind": "conv2d", "filters": 4, "kernel": 5},
                {"kind": "dense", "units": 30},
                {"kind": "dense", "units": 30},
                {"kind": "dense", "units": 10},
            ],
        },
    )
    assert diagnose(run) == []


@pytest.mark.parametrize("share, found", [(0.6, True), (0.59, False)])
def test_saturated_units_share_of_a_hidden_layer(tmp_path, share, found):
    run = run_with(tmp_path, fractions={1: [0.2, share, 0.1, 0.99]})  # the output layer's 99% does not count
    assert rules_of(run) == (["saturated_units"] if found else [])
    if found:
        assert diagnose(run)[0].message.startswith(f"{100 * share:.0f}% of hidden layer 2's outputs")


@pytest.mark.parametrize(
    "accuracy, found",
    [
        ([(0.1, 0.1), (0.15, 0.15)], True),  # 1.5 x chance after 2 epochs: stalled
        ([(0.1, 0.1), (0.16, 0.1501)], False),  # just above
        ([(0.1, 0.1)], False),  # one epoch is too early to say
        ([(0.9, 0.9), (0.1, 0.1)], True),  # learned, then collapsed to chance
    ],
)
def test_learning_stalled_near_chance(tmp_path, accuracy, found):
    run = run_with(tmp_path, accuracy=accuracy)
    assert rules_of(run) == (["learning_stalled"] if found else [])
    if found:
        f = diagnose(run)[0]
        assert f.severity == "error"
        assert f"after {len(accuracy)} epochs" in f.message and "(10% for 10 classes)" in f.message


@pytest.mark.parametrize(
    "accuracy, found",
    [
        ([(0.9, 0.85), (0.95, 0.86), (0.98, 0.88), (1.0, 0.9)], True),  # gaps .05 .09 .10 .10: median .10
        ([(0.9, 0.85), (0.95, 0.86), (0.98, 0.88), (1.0, 0.9001)], False),  # the last gap 0.0999
        ([(0.9, 0.85), (0.9, 0.85), (0.9, 0.85), (1.0, 0.8)], False),  # 0.20 in the last epoch only
        ([(0.9, 0.6), (0.9, 0.6)], False),  # 0.30, but two epochs are too few to tell
    ],
)
def test_overfitting_gap_and_trend(tmp_path, accuracy, found):
    run = run_with(tmp_path, accuracy=accuracy)
    assert rules_of(run) == (["overfitting"] if found else [])
    if found:
        assert "a gap of 10.0 points, widening (it was 5.0 at epoch 1)" in diagnose(run)[0].message


def test_divergence_when_where_cause_and_remedies(tmp_path):
    message = "training diverged in epoch 2 (step 11): loss is not finite; non-finite gradient first in W1"
    run = run_with(
        tmp_path,
        deltas={0: [50.0, 5.0, 1.0, 1.0]},
        status="diverged",
        summary_extra={"divergence": {"epoch": 2, "layer": "W1", "message": message}},
    )
    div = diagnose(run)[0]
    assert div.rule == "divergence" and div.severity == "error"
    assert div.message.startswith("the loss became NaN/inf in epoch 2, step 11 in hidden layer 1 (W1)")
    assert "likely cause: exploding gradients: hidden layer 1's ||δ|| is 50x hidden layer 3's" in div.message
    assert div.remedies[0] == "--set regularization.clip_norm=1.0"
    assert div.remedies[1].startswith("--set optimizer.learning_rate=0.05")
    # no sign of exploding gradients: the step size is blamed
    run = run_with(
        tmp_path / "b",
        deltas={0: [0.1, 0.1, 0.1, 0.1]},
        status="diverged",
        summary_extra={"divergence": {"epoch": 1, "layer": None, "message": "x"}},
    )
    assert "likely cause: steps too large for this net (learning rate 0.5)" in diagnose(run)[0].message


def test_rules_read_old_runs_without_activations_or_gradients(tmp_path):
    run = load_run(write_run(tmp_path / "r", gradients=False, activations=False, batch_stats=False))
    assert diagnose(run) == []


def test_sweep_configurations_count_findings_over_seeds(tmp_path):
    from nnlab.sweep.aggregate import configuration_table

    # the synthetic sweep's ||δ^l|| = 0.01 * 4^l: 3 hidden layers give 16x, 1 and 2 hidden layers less than 10x
    table = configuration_table(write_sweep(tmp_path / "s", depths=(1, 2, 3), seeds=(0, 1)))
    col = table.head.index("findings")
    assert [row[col] for row in table.rows] == ["", "", "vanishing gradient 2/2"]


# --- through the CLI, on configs that provoke each finding ----------------------------------


def train(tmp_path, *args):
    result = CliRunner().invoke(cli, ["train", *args, "--runs-dir", str(tmp_path), "--plain"])
    return result, result.output


def _run_dir(output: str) -> Path:
    return Path(re.search(r"run directory: (.+)", output).group(1).strip())


def test_dead_relu_config_prints_dead_units_and_stalled_learning(tmp_path):
    result, out = train(tmp_path, "faults/dead-relu")
    assert result.exit_code == 0, out
    assert re.search(r"^warning: dead units: 9\d% of hidden layer 1's units, 100% of hidden layer 2's", out, re.M)
    assert re.search(r"^error: learning stalled: validation accuracy \d+\.\d% after 3 epochs", out, re.M)
    # shown once while training (the epoch it appears), then in the diagnosis at the end
    assert len(re.findall(r"^epoch \d+: warning: dead units", out, re.M)) == 1
    assert len(re.findall(r"^epoch \d+: error: learning stalled", out, re.M)) == 1
    run_dir = _run_dir(out)
    doc = json.loads((run_dir / "diagnosis.json").read_text())
    assert doc["rules"] == RULES.names()
    assert doc["thresholds"] == {k: t.value for k, t in THRESHOLDS.items()}
    assert [f["rule"] for f in doc["findings"]] == ["learning_stalled", "dead_units"]
    assert json.loads((run_dir / "summary.json").read_text())["diagnosis"] == doc["findings"]
    assert doc["findings"][1]["evidence"]["dead_fraction"]["2"] == 1.0


def test_saturated_config_prints_saturated_units(tmp_path):
    result, out = train(tmp_path, "faults/saturated")
    assert result.exit_code == 0, out
    assert re.search(
        r"^warning: saturated units: [6-9]\d% of hidden layer 1's, [6-9]\d% of hidden layer 2's outputs", out, re.M
    )
    assert "dead units" not in out


def test_exploding_config_prints_divergence_and_exploding_gradient(tmp_path):
    result, out = train(tmp_path, "faults/exploding")
    assert result.exit_code == 3, out
    assert re.search(
        r"^error: divergence: the loss became NaN/inf in epoch 1, step \d+ in hidden layer 1 \(W1\)", out, re.M
    )
    assert "likely cause: exploding gradients" in out
    assert "try: --set regularization.clip_norm=1.0" in out
    assert re.search(r"^warning: exploding gradient: hidden layer 1's \|\|δ\|\| is \d+x hidden layer 4's", out, re.M)


def test_deep_sigmoid_net_prints_vanishing_gradient(tmp_path):
    # R1's deepest net (Nielsen ch. 5), one short epoch on the embedded data
    result, out = train(
        tmp_path,
        "nielsen/r1",
        "--set",
        "model.sizes=[784,30,30,30,30,10]",
        "--set",
        "data.dataset=mnist-mini",
        "--set",
        "data.train_size=1000",
        "--set",
        "training.epochs=1",
    )
    assert result.exit_code == 0, out
    m = re.search(
        r"^warning: vanishing gradient: hidden layer 1 learns (\d+)x slower than hidden layer 4 at "
        r"(initialization|epoch 1) \(",
        out,
        re.M,
    )
    assert m and int(m.group(1)) >= 10


def test_healthy_run_prints_no_finding_and_strict_passes(tmp_path):
    result, out = train(tmp_path, "quickstart", "--set", "training.epochs=3", "--strict")
    assert result.exit_code == 0, out
    assert "diagnosis: no findings" in out
    assert not re.search(r"^(epoch \d+: )?(warning|error):", out, re.M)
    assert json.loads((_run_dir(out) / "diagnosis.json").read_text())["findings"] == []


@pytest.mark.parametrize("how", [["--strict"], ["--set", "output.strict=true"]])
def test_strict_turns_findings_into_exit_5(tmp_path, how):
    result, out = train(tmp_path, "faults/dead-relu", "--set", "training.epochs=2", *how)
    assert STRICT_EXIT_CODE == 5
    assert result.exit_code == 5, out
    assert "strict: 2 diagnosis finding(s); exit 5" in out


def test_report_shows_the_diagnosis(tmp_path):
    result, out = train(tmp_path, "faults/dead-relu", "--set", "training.epochs=2")
    run_dir = _run_dir(out)
    runner = CliRunner()
    text = runner.invoke(cli, ["report", str(run_dir)]).output
    assert "diagnosis" in text and "error: learning stalled: validation accuracy" in text
    md = runner.invoke(cli, ["report", str(run_dir), "--format", "md"]).output
    assert "## Diagnosis" in md and "  - warning: dead units: " in md
    doc = json.loads(runner.invoke(cli, ["report", str(run_dir), "--format", "json"]).output)
    assert [f["rule"] for f in doc["runs"][0]["diagnosis"]] == ["learning_stalled", "dead_units"]
    csv_text = runner.invoke(cli, ["report", str(run_dir), "--format", "csv"]).output
    assert csv_text.splitlines()[1].endswith(",learning_stalled;dead_units")


def test_report_diagnoses_a_run_recorded_without_a_diagnosis(tmp_path):
    run_dir = write_run(tmp_path / "old", sizes=(784, 30, 30, 30, 10))  # ||δ^3|| / ||δ^1|| = 16
    doc = json.loads(CliRunner().invoke(cli, ["report", str(run_dir), "--format", "json"]).output)
    assert [f["rule"] for f in doc["runs"][0]["diagnosis"]] == ["vanishing_gradient"]


def test_sweep_strict_exit_and_findings_column(tmp_path):
    sweep = tmp_path / "dead.yaml"
    base = ROOT / "nnlab" / "configs" / "faults" / "dead-relu.yaml"
    sweep.write_text(f"name: dead\nbase: {base}\nset: [training.epochs=2, data.train_size=1000]\nseeds: 2\n")
    result = CliRunner().invoke(
        cli, ["sweep", str(sweep), "--jobs", "1", "--runs-dir", str(tmp_path / "runs"), "--no-plots", "--strict"]
    )
    assert result.exit_code == 5, result.output
    assert "learning stalled 2/2" in result.output
    assert "strict: 2 member(s) with diagnosis findings" in result.output


def test_small_training_set_without_l2_prints_overfitting(tmp_path):
    result, out = train(
        tmp_path,
        "quickstart",
        *("--set", "data.train_size=500", "--set", "instruments.probe_size=500"),
        *("--set", "regularization.l2=0", "--set", "training.epochs=10"),
    )
    assert result.exit_code == 0, out
    m = re.search(
        r"^warning: overfitting: train \(probe\) (\d+\.\d)% against validation (\d+\.\d)% at epoch 10", out, re.M
    )
    assert m and float(m.group(1)) - float(m.group(2)) >= 10
    assert "try: --set regularization.l2=5.0 (weight decay)" in out


def test_a_conv_relu_net_is_diagnosed_without_counting_dead_border_positions(tmp_path):
    result = CliRunner().invoke(cli, ["train", "conv/r6-conv2-relu", "--smoke", "--runs-dir", str(tmp_path), "--plain"])
    assert result.exit_code == 0, result.output
    run = load_run(_run_dir(result.output))
    assert run.layer_kinds == ["conv2d", "conv2d", "dense", "dense"]
    conv2_dead = run.activations["dead_fraction"][2].values[-1]
    assert conv2_dead >= THRESHOLDS["dead_share"].value  # filter positions over the empty border
    assert "dead_units" not in [f["rule"] for f in json.loads((run.path / "diagnosis.json").read_text())["findings"]]


@pytest.mark.parametrize(
    ("cost", "floor", "diagnosed"),
    [(0.01, 0.0, list(range(1, 21))), (0.5, 0.0, [1, 10, 19]), (0.5, 1.0, [1, 2, 3, 9, 18])],
)
def test_the_live_diagnosis_keeps_to_its_share_of_the_training_time(tmp_path, monkeypatch, cost, floor, diagnosed):
    """Epochs of 1 s; reading the run back costs ``cost`` s. At 0.5 s and no floor, 5% of the time so far
    allows a diagnosis when spent <= 0.05 * elapsed: epoch 1 (t 1), then t 10.5 (epoch 10), t 20 (epoch 19).
    With a 1 s floor, spent <= 1 + 0.05 * elapsed: epochs 1-3 (spent 1.5 by t 4.5), then t 10.5 (epoch 9,
    1.5 <= 1.525) and t 20 (epoch 18, 2.0 <= 2.0)."""
    from types import SimpleNamespace

    from nnlab.diagnosis import live

    clock = [0.0]
    epoch = [0]
    seen = []

    def slow_diagnose(run):
        seen.append(epoch[0])
        clock[0] += cost
        return []

    monkeypatch.setattr(live, "diagnose", slow_diagnose)
    monkeypatch.setattr(live.DiagnosisHook, "FLOOR", floor)
    hook = live.DiagnosisHook(write_run(tmp_path / "r"), warn=print, clock=lambda: clock[0])
    for epoch[0] in range(1, 21):
        clock[0] += 1.0
        hook.on_epoch_end(SimpleNamespace(epoch=epoch[0]))
    assert seen == diagnosed
