"""docs/reliability.md promises a test behind every row of its table: each test it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`(test_\w+\.py)(?:::(\w+\*?))?`|`(test_\w+\*?)`")


def reliability_rows() -> list[str]:
    section = ROOT.joinpath("docs", "reliability.md").read_text()
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| fault")]


def test_every_row_of_the_reliability_table_names_existing_tests() -> None:
    rows = reliability_rows()
    assert len(rows) >= 10
    files = {path.name: path.read_text() for path in ROOT.joinpath("tests").rglob("test_*.py")}
    for row in rows:
        tests_cell = row.rstrip(" |").rsplit(" | ", 1)[1]
        references = REFERENCE.findall(tests_cell)
        assert references, f"no test named in: {row[:80]}"
        current = ""
        for file_name, test_name, bare_name in references:
            current = file_name or current  # a bare `test_x*` belongs to the file named before it
            if current not in files:
                pytest.fail(f"{current} does not exist (row: {row[:60]})")
            name = test_name or bare_name
            if name:
                whole = "" if name.endswith("*") else r"\b"  # `test_x*` names every test starting with test_x
                pattern = "def " + re.escape(name.rstrip("*")) + whole
                assert re.search(pattern, files[current]), f"{current}::{name} does not exist (row: {row[:60]})"
