"""docs/reproductions.md cannot silently rot: the cheap tables are regenerated with the commands the
page prints and compared, text for text, with the page.

- R2: ``nnlab sweep r2`` (30 untrained nets, seconds) then ``python scripts/verdicts.py r2 SWEEP``;
- R5: ``python scripts/r5_chain.py`` (the chain at initialization and Nielsen's exploding
  construction), and, marked slow, ``nnlab train configs/relu/r5-chain.yaml`` (60 epochs of the
  one-neuron chain) with ``--vanishing-run`` for the trained chain's table.

They need full MNIST (skipped without it). The other tables take minutes to hours of training
(docs/reproductions.md gives each command and its wall time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reproductions.md"
pytestmark = pytest.mark.mnist


def table_after(text: str, marker: str) -> str:
    """The first Markdown table (consecutive lines starting with "|") after the line holding ``marker``."""
    lines = text[text.index(marker) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def run(args: list[str], cwd: Path, data: Path) -> str:
    env = {**os.environ, "NNLAB_DATA": str(data)}
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def data(shared_data_dir: Path) -> Path:
    return shared_data_dir


def test_table_after_reads_the_table_that_follows_the_marker():
    text = "intro\n| a |\n```bash\ncmd x\n```\n\nsome words\n\n| h |\n|---|\n| 1 |\nafter\n| other |\n"
    assert table_after(text, "cmd x") == "| h |\n|---|\n| 1 |\n"


def test_r2_table_is_what_its_commands_print(tmp_path, data):
    """The sweep's members are untrained nets (R2 measures at initialization): every seed counts."""
    doc = DOC.read_text(encoding="utf-8")
    marker = "python scripts/verdicts.py r2 runs/sweeps/<stamp>-r2"
    assert f"nnlab sweep r2\n{marker}" in doc  # the commands as the page prints them
    # --jobs 1 and --no-plots change how the sweep runs, not one of its numbers
    run([sys.executable, "-m", "nnlab", "sweep", "r2", "--jobs", "1", "--no-plots", "-q"], tmp_path, data)
    (sweep,) = (tmp_path / "runs" / "sweeps").iterdir()
    printed = run([sys.executable, str(ROOT / "scripts" / "verdicts.py"), "r2", str(sweep)], tmp_path, data)
    assert "nan" not in printed and "| 10 | holds |" in printed
    assert printed == table_after(doc, marker)


def r5_blocks(printed: str) -> list[str]:
    """The Markdown blocks r5_chain.py prints ("### name", blank line, table), without its last line."""
    md = printed[: printed.rindex("written: ")].strip()
    return ["### " + b.strip() for b in md.split("### ")[1:]]


def test_r5_tables_at_initialization_and_exploding_are_what_the_script_prints(tmp_path, data):
    doc = DOC.read_text(encoding="utf-8")
    printed = run(
        [sys.executable, str(ROOT / "scripts" / "r5_chain.py"), "--out", str(tmp_path / "r5")], tmp_path, data
    )
    blocks = r5_blocks(printed)
    assert [b.splitlines()[0] for b in blocks] == ["### vanishing, at initialization", "### exploding (w = 100, z = 0)"]
    for block in blocks:
        assert block in doc, block


@pytest.mark.slow
def test_r5_trained_chain_table_is_what_the_script_prints(tmp_path, data):
    doc = DOC.read_text(encoding="utf-8")
    assert "nnlab train configs/relu/r5-chain.yaml\n" in doc
    run(
        [sys.executable, "-m", "nnlab", "train", str(ROOT / "configs" / "relu" / "r5-chain.yaml"), "-q"],
        tmp_path,
        data,
    )
    (trained,) = (tmp_path / "runs").iterdir()
    script = [sys.executable, str(ROOT / "scripts" / "r5_chain.py"), "--out", str(tmp_path / "r5")]
    printed = run([*script, "--vanishing-run", str(trained)], tmp_path, data)
    blocks = r5_blocks(printed)
    assert blocks[1].startswith("### vanishing, after training\n")
    assert blocks[1] in doc
