"""The journal survives a torn last line and names damaged lines (atomic writes on a full disk: test_reliability)."""

from __future__ import annotations

import json

import pytest

from uniads_bench.errors import UserError
from uniads_bench.journal import RetryRecord, read_journal
from uniads_bench.runner.journal import Journal


def test_round_trip_and_torn_tail(tmp_path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(RetryRecord("a", 1, "worker died"))
    journal.append(RetryRecord("b", 1, "worker died"))
    with open(journal.path, "ab") as handle:
        handle.write(b'{"type": "retry", "key": "c", "n"')
    assert [r.key for r in read_journal(journal.path)] == ["a", "b"]  # the read-only reader leaves the file
    with pytest.warns(UserWarning, match="torn last line"):
        records = journal.read()
    assert records == [RetryRecord("a", 1, "worker died"), RetryRecord("b", 1, "worker died")]
    journal.append(RetryRecord("c", 2, "node lost"))  # the next append starts on a clean line
    assert [r.key for r in journal.read()] == ["a", "b", "c"]


def test_damage_in_the_middle_is_an_error(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    good = json.dumps(RetryRecord("a", 1, "x").to_json())
    path.write_text(f"{good}\nnot json\n{good}\n")
    with pytest.raises(UserError, match="line 2 is damaged"):
        Journal(path).read()
    path.write_text(f'{good}\n{{"type": "evaluation", "key": "b"}}\n')  # valid JSON, not a record
    with pytest.raises(UserError, match="line 2 is damaged.*not a journal record"):
        read_journal(path)
