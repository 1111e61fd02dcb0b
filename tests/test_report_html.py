"""nnlab report --format html: one self-contained file with the config, tables, figures and diagnosis.

The numbers in its tables are the run's summary numbers, it embeds exactly the figures
``nnlab plot`` writes for the same paths, everything taken from a run is escaped, and a real
browser (headless Chromium) displays its images.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from synthetic_runs import delta, write_run, write_sweep

from nnlab.cli.main import cli
from nnlab.report_html import render_html
from nnlab.results import read_findings


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


class Page(HTMLParser):
    """Tables (by caption or first header), img sources and the text of every element with an id."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.captions: list[str] = []
        self.imgs: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
            self.captions.append("")
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._caption = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "img":
            self.imgs.append(a)
        elif tag == "section":
            self.sections.append(a["id"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "caption":
            self.captions[-1] = "".join(self._caption or [])
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)

    def table(self, caption_start: str) -> list[list[str]]:
        for cap, t in zip(self.captions, self.tables):
            if cap.startswith(caption_start):
                return t
        raise KeyError(f"no table captioned {caption_start!r}; have {self.captions}")


@pytest.fixture
def run(tmp_path) -> Path:
    return write_run(tmp_path / "runs" / "deep", sizes=(784, 30, 30, 10), epochs=4, best=3, name="deep")


def html_of(*paths) -> str:
    return render_html(list(paths))


def test_tables_hold_the_runs_summary_numbers(run):
    page = Page(html_of(run))
    s = json.loads((run / "summary.json").read_text())
    head, row = page.table("accuracy")
    cells = dict(zip([h.replace("\n", " ") for h in head], row))
    assert cells["run"] == "deep" and cells["status"] == "completed" and cells["epochs"] == "4"
    assert cells["final valid %"] == f"{100 * s['final']['validation_accuracy']:.2f}"
    assert cells["final test %"] == f"{100 * s['final']['test_accuracy']:.2f}"
    assert cells["best epoch"] == str(s["best"]["epoch"]) == "3"
    assert cells["best valid %"] == f"{100 * s['best']['validation_accuracy']:.2f}"
    assert cells["best test %"] == f"{100 * s['best']['test_accuracy']:.2f}"
    head, row = page.table("‖δˡ‖ per layer")
    assert head == ["run", "hidden 1", "hidden 2", "output"]
    assert row[1:] == [f"{delta(l, 0):.3g} → {delta(l, 4):.3g}" for l in (1, 2, 3)]
    assert page.sections == ["config", "accuracy", "norms", "figures"]  # no diagnosis: no section


def test_one_run_embeds_the_figures_plot_writes_and_its_config(run, tmp_path):
    out = invoke("plot", run, "-o", tmp_path / "plots")
    written = sorted(Path(p).stem for p in out.stdout.split())
    text = html_of(run)
    page = Page(text)
    assert len(page.imgs) == len(written) == 5  # no evaluation yet: the two evaluation figures skipped
    embedded = sorted(re.findall(r'<figure id="fig-([a-z_]+)">', text))
    assert embedded == written
    for img in page.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        import base64

        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # skipped-figure notes, as plot prints them
    for note in [line.removeprefix("note: ") for line in out.stderr.splitlines()]:
        assert note.replace("&", "&amp;").replace("'", "&#x27;").replace("<", "&lt;") in text
    assert (run / "config.yaml").read_text().splitlines()[0] in text  # name: synthetic
    assert "activation: sigmoid" in text


def test_sweep_has_the_per_configuration_table_and_plots_figures(tmp_path):
    sweep = write_sweep(tmp_path / "depth")
    out = invoke("plot", sweep, "-o", tmp_path / "plots")
    text = html_of(sweep)
    page = Page(text)
    assert len(page.imgs) == len(out.stdout.split()) > 0
    rows = page.table("per configuration")
    assert rows[0][:2] == ["configuration", "runs"]
    assert [r[1] for r in rows[1:]] == ["2", "2", "2"]
    assert len(page.table("accuracy")) == 1 + 6  # one row per member
    assert page.sections == ["config", "accuracy", "norms", "configurations", "figures"]


def test_several_runs_show_what_differs_and_compare_figures(tmp_path):
    a = write_run(tmp_path / "a", activation="sigmoid", name="a")
    b = write_run(tmp_path / "b", activation="relu", name="b")
    out = invoke("plot", a, b, "-o", tmp_path / "plots")
    page = Page(html_of(a, b))
    assert len(page.imgs) == len(out.stdout.split()) > 0
    diff = page.tables[0]
    assert diff == [["run", "model.activation"], ["a", "sigmoid"], ["b", "relu"]]


def test_everything_from_a_run_is_escaped_and_nothing_is_fetched(tmp_path):
    run = write_run(tmp_path / "x", name="<script>alert(1)</script>&", activation="<img src=x>")
    (run / "diagnosis.json").write_text(json.dumps([{"rule": "<b>r</b>", "severity": "warning", "message": "a<b"}]))
    text = html_of(run)
    assert "<script>alert" not in text and "<img src=x>" not in text and "<b>r</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in text and "a&lt;b" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # no network: no remote source
    tags = set(Page(text).tags)
    assert not tags & {"script", "link", "iframe", "object"}


def test_diagnosis_findings_are_shown_where_the_run_has_them(tmp_path):
    run = write_run(tmp_path / "d")
    findings = [
        {"rule": "vanishing_gradient", "severity": "warning", "message": "‖δ¹‖ is 1/16 of ‖δ³‖", "layer": 1},
        {"rule": "healthy_updates", "severity": "info", "message": "update ratios near 1e-3"},
    ]
    assert read_findings(run) == []
    (run / "diagnosis.json").write_text(json.dumps({"findings": findings}))
    assert read_findings(run) == findings
    page = Page(html_of(run))
    assert "diagnosis" in page.sections
    table = [t for t in page.tables if t and t[0] == ["severity", "rule", "finding", "details"]][0]
    assert table[1:] == [
        ["warning", "vanishing_gradient", "‖δ¹‖ is 1/16 of ‖δ³‖", "layer: 1"],
        ["info", "healthy_updates", "update ratios near 1e-3", ""],
    ]
    (run / "diagnosis.json").unlink()
    s = json.loads((run / "summary.json").read_text())
    s["diagnosis"] = findings[:1]
    (run / "summary.json").write_text(json.dumps(s))
    assert read_findings(run) == findings[:1]
    (run / "diagnosis.json").write_text("{not json")  # unreadable: falls back, never fails the report
    assert read_findings(run) == findings[:1]


def test_cli_picks_html_by_extension_writes_atomically_with_the_umask(run, tmp_path):
    target = tmp_path / "out" / "report.html"
    old = os.umask(0o027)
    try:
        out = invoke("report", run, "-o", target)
    finally:
        os.umask(old)
    assert out.exit_code == 0, out.output
    assert out.stdout == f"{target}\n"
    assert target.stat().st_mode & 0o777 == 0o640
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>nnlab report: deep</title>" in text
    assert re.search(r"Generated by nnlab \d+\.\d+\.\d+\S* on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", text)
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left
    out = invoke("report", run, "--format", "html")
    assert out.exit_code == 0 and out.stdout.startswith("<!DOCTYPE html>")
    out = invoke("report", run, "--format", "html", "-o", tmp_path / "r.md")
    assert out.exit_code == 2
    assert out.output == (
        f"error: {tmp_path / 'r.md'}: --format html does not match the extension '.md' (md);"
        " name the file *.html or drop --format\n"
    )


def test_the_evaluation_figures_are_embedded_once_evaluate_ran(tmp_path):
    """A trained run: plot and the report gain the confusion matrix once nnlab evaluate saved it."""
    from nnlab.config import load_config
    from nnlab.experiment import run_experiment

    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    X = 2.0 * np.eye(3, 4)[y] + rng.normal(size=(150, 4))
    np.savez(tmp_path / "b.npz", X_train=X[:100], y_train=y[:100], X_validation=X[100:125],
             y_validation=y[100:125], X_test=X[125:], y_test=y[125:])  # fmt: skip
    cfg = {
        "name": "b",
        "model": {"sizes": [4, 5, 3], "output": "softmax", "cost": "log_likelihood"},
        "training": {"epochs": 2, "batch_size": 10},
        "instruments": {"probe_size": 20},
        "data": {"dataset": "npz", "path": str(tmp_path / "b.npz")},
    }
    run = run_experiment(load_config(cfg), runs_dir=tmp_path / "runs", display="quiet").run_dir
    before = len(Page(html_of(run)).imgs)
    assert invoke("evaluate", run).exit_code == 0
    text = html_of(run)
    assert len(Page(text).imgs) == before + 1 == len(invoke("plot", run).stdout.split())
    assert 'id="fig-confusion_matrix"' in text
    assert "misclassified examples: skipped, the examples are flat vectors of 4 values, not images" in text


# --- in a real browser ---------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "img-sizes";
  out.textContent = JSON.stringify([...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]));
  document.body.appendChild(out);
});
</script>"""
FIGURES_ONLY = "<style>header, nav, section:not(#figures), h2, figcaption, .notes { display: none; }</style>"


def headless(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (.ci/run installs Debian's chromium where apt is)")
def test_a_browser_displays_the_figures(run, tmp_path):
    binary = chromium()
    text = html_of(run)
    n = len(Page(text).imgs)
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = headless(binary, tmp_path, "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    sizes = json.loads(re.search(r'<pre id="img-sizes">(.*?)</pre>', done.stdout, re.S).group(1))
    assert len(sizes) == n == 5
    assert all(complete and w > 100 and h > 100 for complete, w, h in sizes), sizes

    # the figures alone on the page: the screenshot is not blank
    shown = tmp_path / "figures.html"
    shown.write_text(text.replace("</head>", FIGURES_ONLY + "</head>"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    done = headless(binary, tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", shown.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (1400, 1000)
    ink = (pixels < 0.9).any(axis=2).mean()  # share of pixels not (near) white: axes, lines, bars, text
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50 and ink > 0.02, ink
