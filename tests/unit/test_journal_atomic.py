"""The journal survives a torn last line and names damaged lines; atomic writes keep the old file on failure."""

from __future__ import annotations

import pytest

from uniads_bench.errors import UserError
from uniads_bench.runner.atomic import atomic_write_text
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


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path, monkeypatch) -> None:
    target = tmp_path / "board.md"
    atomic_write_text(target, "old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["board.md"]
