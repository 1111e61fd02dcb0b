"""The rough edges a new user hit (issue 12, item 11): each one fixed, each with its test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_runs import write_run

from nnlab.cli.main import cli


def invoke(*args: str, **kw):
    return CliRunner().invoke(cli, list(args), **kw)


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


# --- report -o: the format follows the file's extension ------------------------


@pytest.fixture
def run(tmp_path) -> Path:
    return write_run(tmp_path / "run", name="deep", best=3)


@pytest.mark.parametrize(
    ("name", "first"),
    [("rep.md", "# deep"), ("rep.MARKDOWN", "# deep"), ("rep.csv", "run,path,status"), ("rep.txt", "deep: accuracy")],
)
def test_report_format_follows_the_extension(run, tmp_path, name, first):
    out = tmp_path / name
    result = invoke("report", str(run), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"
    assert out.read_text().lstrip().startswith(first)


def test_report_json_by_extension_and_by_agreeing_format(run, tmp_path):
    for extra in ([], ["--format", "json"]):
        out = tmp_path / f"rep{len(extra)}.json"
        assert invoke("report", str(run), "--output", str(out), *extra).exit_code == 0
        assert json.loads(out.read_text())["runs"][0]["run"] == "deep"


@pytest.mark.parametrize(
    ("name", "found"), [("rep.docx", "extension '.docx'"), ("rep", "no extension"), ("rep.pdf", "extension '.pdf'")]
)
def test_report_refuses_an_unknown_extension_and_writes_nothing(run, tmp_path, name, found):
    out = tmp_path / name
    result = invoke("report", str(run), "-o", str(out))
    assert result.exit_code == 2
    assert errors(result) == [
        f"error: {out}: {found}; a report file ends in .md, .markdown, .csv, .json, .txt, .html, .htm"
        " (Markdown, CSV, JSON, text table, HTML)"
    ]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_report_refuses_a_format_the_extension_contradicts(run, tmp_path):
    out = tmp_path / "rep.csv"
    result = invoke("report", str(run), "-o", str(out), "--format", "md")
    assert result.exit_code == 2
    assert errors(result) == [
        f"error: {out}: --format md does not match the extension '.csv' (csv); name the file *.md or drop --format"
    ]
    assert not out.exists()
    result = invoke("report", str(run), "-o", str(tmp_path / "rep.txt"), "--format", "csv")
    assert errors(result) == [
        f"error: {tmp_path / 'rep.txt'}: --format csv does not match the extension '.txt' (table);"
        " name the file *.csv or drop --format"
    ]


def test_report_format_without_output_prints(run):
    result = invoke("report", str(run), "--format", "csv")
    assert result.exit_code == 0 and result.stdout.startswith("run,path,status")


# --- --jobs: 0 and negatives are refused, auto is one per core -------------------


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "two", ""])
def test_sweep_jobs_must_be_a_whole_number_at_least_1(tmp_path, value):
    result = invoke("sweep", "depth", "--jobs", value, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert errors(result) == [
        f"error: --jobs {value}: not a whole number >= 1; give the number of worker processes, or auto for one per core"
    ]
    assert not (tmp_path / "runs").exists()


def test_jobs_auto_or_unset_is_one_per_core(monkeypatch):
    from nnlab.cli import common

    monkeypatch.setattr(common.os, "cpu_count", lambda: 7)
    assert [common.parse_jobs(v) for v in (None, "auto", "AUTO", "3", " 1 ")] == [7, 7, 7, 3, 1]


def test_sweep_help_says_what_jobs_takes():
    text = " ".join(invoke("sweep", "--help").stdout.split())
    assert "-j, --jobs N|auto Worker processes: a whole number >= 1" in text
    assert "or auto for one per core (the default)" in text


# --- a mistyped command gets a suggestion --------------------------------------------


@pytest.mark.parametrize(
    ("args", "last"),
    [
        (["trian"], "Error: No such command 'trian'. Did you mean 'train'?"),
        (["reprot", "runs"], "Error: No such command 'reprot'. Did you mean 'report'?"),
        (["validat"], "Error: No such command 'validat'. Did you mean 'validate'?"),
        (["data", "fetc", "mnist"], "Error: No such command 'fetc'. Did you mean 'fetch'?"),
        (["frobnicate"], "Error: No such command 'frobnicate'."),
    ],
)
def test_a_mistyped_command_gets_the_closest_one(args, last):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == last


def test_a_mistyped_command_from_the_installed_entry_point(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "nnlab", "trian", "x.yaml"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "Error: No such command 'trian'. Did you mean 'train'?"


# --- one spelling for "where the output goes": -o/--output -------------------------


def test_plot_and_report_both_take_o_and_output(run, tmp_path):
    for cmd, spelling in (("plot", "-o"), ("plot", "--output"), ("plot", "--out")):  # --out: the old name, hidden
        out = tmp_path / f"figs{spelling}"
        result = invoke(cmd, str(run), spelling, str(out), "--format", "svg")
        assert result.exit_code == 0, result.output
        assert [Path(p).parent for p in result.stdout.split()] == [out] * 5
    for cmd in ("plot", "report"):
        text = invoke(cmd, "--help").stdout
        assert "-o, --output" in text and "--out " not in text


def test_plot_refuses_two_different_output_folders(run, tmp_path):
    result = invoke("plot", str(run), "-o", str(tmp_path / "a"), "--out", str(tmp_path / "b"))
    assert result.exit_code == 2
    assert errors(result) == [
        f"error: --output {tmp_path / 'a'} and --out {tmp_path / 'b'}: give one (--out is the old name of --output)"
    ]


# --- data fetch: an unreachable source is exit 4, bad input stays exit 2 -----------


@pytest.fixture
def closed_url() -> str:
    """A local URL nothing listens on: connection refused, as with no network."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


def test_data_fetch_from_an_unreachable_source_exits_4(tmp_path, closed_url):
    result = invoke("data", "fetch", "mnist", "--dir", str(tmp_path), "--mirror", closed_url, "--timeout", "5")
    assert result.exit_code == 4
    first = "train-images-idx3-ubyte.gz"
    assert errors(result) == [
        f"error: could not fetch {first} into {tmp_path / 'mnist'}: {closed_url}{first}: Connection refused;"
        " check the network, or pass --mirror URL (or set NNLAB_MNIST_MIRRORS)"
    ]
    assert "Traceback" not in result.output
    assert list((tmp_path / "mnist").iterdir()) == []


def test_data_fetch_bad_input_is_still_exit_2(tmp_path):
    result = invoke("data", "fetch", "mnist", "--dir", str(tmp_path), "--mirror", "example.org/mnist")
    assert result.exit_code == 2
    assert errors(result) == [
        "error: mirror 'example.org/mnist' is not a URL; give one starting with http://, https:// or file://"
    ]
    (tmp_path / "file").write_text("")
    result = invoke("data", "fetch", "mnist", "--dir", str(tmp_path / "file" / "sub"))
    assert result.exit_code == 2 and len(errors(result)) == 1


def test_exit_4_is_documented_in_the_help_the_readme_and_reliability():
    root = Path(__file__).resolve().parents[1]
    help_text = " ".join(invoke("data", "fetch", "--help").stdout.split())
    assert "4 source unreachable" in help_text
    readme = " ".join((root / "README.md").read_text().split())
    assert "Exit codes of `nnlab data fetch`: 0 ready, 2 bad input (" in readme
    assert "), 4 source unreachable (no mirror delivered a verified file" in readme
    assert "## A download source that cannot be reached (exit code 4)" in (root / "docs" / "reliability.md").read_text()


# --- "1 epoch", "1 member": numbers and nouns agree; one seed shows no "± 0.00" ----

QUICKSTART = Path(__file__).resolve().parents[1] / "nnlab" / "configs" / "quickstart.yaml"
TINY = ["training.epochs=1", "data.train_size=10", "instruments.probe_size=10"]
TINY += ["data.validation_size=50", "data.test_size=50"]


def test_plural_agrees_with_the_number():
    from nnlab.text import plural

    assert [plural(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
    assert plural(1, "batch", "batches") == "1 batch" and plural(3, "batch", "batches") == "3 batches"


def test_a_one_epoch_one_batch_run_says_so(tmp_path):
    sets = [a for s in [*TINY, "training.batch_size=10"] for a in ("--set", s)]
    result = invoke("train", str(QUICKSTART), *sets, "--runs-dir", str(tmp_path), "--plain")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "quickstart: 1 epoch of 1 batch"
    assert lines[2].startswith("status completed: 1 epoch in ")
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "accuracy.md").read_text().startswith("# quickstart: completed, 1 epoch, ")


def test_early_stopping_after_one_epoch_says_epoch():
    from types import SimpleNamespace

    from nnlab.training import EarlyStopping

    stop = EarlyStopping(monitor="validation_accuracy", patience=1)
    for epoch, acc in ((1, 0.5), (2, 0.4)):
        state = SimpleNamespace(epoch=epoch, metrics={"validation_accuracy": acc}, stop=None)
        stop.on_epoch_end(state)
    assert state.stop == "no improvement in validation_accuracy for 1 epoch"


@pytest.fixture
def one_seed_sweep(tmp_path) -> tuple[object, Path]:
    f = tmp_path / "one.yaml"
    f.write_text(f"name: one\nbase: {QUICKSTART}\nseeds: 1\nset: [{', '.join(TINY)}]\n")
    result = invoke("sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "-j", "1", "--no-plots")
    assert result.exit_code == 0, result.output
    (sweep_dir,) = (tmp_path / "runs" / "sweeps").iterdir()
    return result, sweep_dir


def test_a_one_member_sweep_says_member_and_shows_no_spread(one_seed_sweep, tmp_path):
    result, sweep_dir = one_seed_sweep
    out = result.stdout
    assert f"sweep one: 1 member, 1 job -> {sweep_dir}" in out
    assert "±" not in out.split("at initialization (")[1]  # the table: values alone
    summary = (sweep_dir / "summary.md").read_text()
    assert "1 of 1 member completed;" in summary
    row = summary.strip().splitlines()[-1]
    assert row.startswith("| all runs | 1 | ") and "±" not in row
    doc = json.loads((sweep_dir / "members" / "m000" / "summary.json").read_text())
    assert row.split(" | ")[2] == f"{100 * doc['final']['validation_accuracy']:.2f}"
    md = invoke("report", str(sweep_dir), "--format", "md").stdout
    config_row = md.strip().splitlines()[-1]
    assert config_row.startswith("| all runs | 1 | ") and "±" not in config_row
    js = json.loads(invoke("report", str(sweep_dir), "--format", "json").stdout)
    assert js["configurations"][0]["final_validation_accuracy"]["std"] is None
    assert js["configurations"][0]["final_validation_accuracy"]["n"] == 1
    f = tmp_path / "one.yaml"
    dry = invoke("sweep", str(f), "--dry-run")
    assert "\n1 member, valid\n" in dry.stdout


def test_several_seeds_keep_mean_and_std(tmp_path):
    from synthetic_runs import write_sweep

    sweep = write_sweep(tmp_path / "s", depths=(1,), seeds=(0, 1))
    row = invoke("report", str(sweep), "--format", "md").stdout.strip().splitlines()[-1]
    assert row.startswith("| 784-30-10 | 2 | ") and row.count("±") == 5  # 3 accuracies, 2 layers


# --- train accuracy says it was measured on the probe set ---------------------------


@pytest.mark.parametrize(("mode", "label"), [("probe", "train (probe)"), ("full", "train (full)")])
def test_train_accuracy_is_labelled_with_what_it_was_measured_on(tmp_path, mode, label):
    sets = [a for s in [*TINY, f"instruments.train_metrics={mode}"] for a in ("--set", s)]
    result = invoke("train", str(QUICKSTART), *sets, "--runs-dir", str(tmp_path), "--plain")
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    metrics = (run_dir / "metrics.csv").read_text().splitlines()
    assert metrics[0].split(",")[3:5] == ["train_loss", "train_accuracy"]  # the column keeps its name
    loss, acc = (float(x) for x in metrics[2].split(",")[3:5])
    assert f"epoch 1/1  {label} loss {loss:.4f} {100 * acc:.2f}%  validation " in result.stdout
    assert f"| | epoch | {label} % | validation % | test % |" in (run_dir / "accuracy.md").read_text()
    md = invoke("report", str(run_dir), "--format", "md").stdout
    assert f"| run | status | epochs | final {label} % | final valid % |" in md
    assert json.loads(invoke("report", str(run_dir), "--format", "json").stdout)["runs"][0]["train_metrics"] == mode
    rows = invoke("report", str(run_dir), "--format", "csv").stdout.splitlines()
    assert "final_train_accuracy" in rows[0].split(",")


def test_an_old_run_without_train_metrics_reads_as_probe(run):
    from nnlab.plotting import figures
    from nnlab.results import load_run

    assert "train_metrics" not in (run / "config.yaml").read_text()  # as written before the key existed
    assert "| final train (probe) % |" in invoke("report", str(run), "--format", "md").stdout
    labels = [s.label for s in figures.accuracy(load_run(run)).panel("Accuracy").series]
    assert labels[:3] == ["train (probe)", "validation", "test"]
    text = invoke("report", str(run)).stdout
    assert "final train" in text and "(probe)" in text
