"""The journal survives a torn last line and names damaged lines (atomic writes on a full disk: test_reliability)."""

from __future__ import annotations

import pytest

from uniads_bench.errors import UserError
from uniads_bench.runner.journal import Journal


def test_round_trip_and_torn_tail(tmp_path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"key": "a", "n": 1})
    journal.append({"key": "b", "n": 2})
    with open(journal.path, "ab") as handle:
        handle.write(b'{"key": "c", "n"')
    with pytest.warns(UserWarning, match="torn last line"):
        records = journal.read()
    assert [r["key"] for r in records] == ["a", "b"]
    journal.append({"key": "c", "n": 3})  # the next append starts on a clean line
    assert [r["key"] for r in journal.read()] == ["a", "b", "c"]


def test_damage_in_the_middle_is_an_error(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "c"}\n')
    with pytest.raises(UserError, match="line 2 is damaged"):
        Journal(path).read()
