"""Everything a user is pointed to is in the repository: no tracked file cites the project's private
notes (REFERENCE.md) or the folder beside the checkout where the project's machines keep data
(../shared). The protocols live in docs/protocols.md, with the original sources."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = re.compile(r"REFERENCE\.md|\.\./shared")


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (or no git): nothing tracked to check")
    names = [n for n in out.stdout.decode("utf-8").split("\0") if n]
    # symlinks (configs -> nnlab/configs) and submodules are not files of their own
    return [ROOT / n for n in names if (ROOT / n).is_file() and not (ROOT / n).is_symlink()]


def test_no_tracked_file_cites_reference_md_or_the_shared_folder():
    files = tracked_files()
    assert any(f.name == "protocols.md" for f in files)  # the listing is real: the docs are in it
    hits = []
    for f in files:
        if f == Path(__file__).resolve():
            continue
        text = f.read_bytes().decode("utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            if FORBIDDEN.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []


def test_the_pattern_catches_both_citations():
    """The check above could pass by matching nothing: it matches what it must."""
    assert FORBIDDEN.search("# R1 (REFERENCE.md): depth")
    assert FORBIDDEN.search("NNLAB_DATA=../shared/data python scripts/x.py")
    assert not FORBIDDEN.search("# R1 (docs/protocols.md#r1): depth")
