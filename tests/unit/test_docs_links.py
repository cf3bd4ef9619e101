"""Every relative link and every backquoted repository path in the README and docs/ points at something that
exists, so a reader who follows the front door never hits a dead end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Backquoted paths under the project's top-level folders (`benchmarks/results/x.json`, `tests/unit/...`).
PATH = re.compile(r"`((?:uniads_bench|benchmarks|tests|docs|leaderboards|baselines)/[\w./-]+)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_links_and_paths_resolve(document: Path) -> None:
    text = document.read_text()
    links = [link for link in LINK.findall(text) if "://" not in link]
    missing = [link for link in links if not (document.parent / link).exists()]
    missing += [path for path in PATH.findall(text)
                if "{" not in path and "*" not in path and not (ROOT / path.rstrip(".")).exists()]
    assert missing == []
