"""Candidates are frozen, hashable, JSON round-trip, and the space samples deterministically from its seed."""

from __future__ import annotations

import json

import numpy as np

from uniads_bench.candidate import Candidate
from uniads_bench.config import load_suite
from uniads_bench.space import track_space


def test_candidate_id_is_content_hash() -> None:
    a = Candidate.make({"width": 8, "depth": 1}, "kd", {"temperature": 4.0})
    b = Candidate.make({"depth": 1, "width": np.int64(8)}, "kd", {"temperature": np.float64(4.0)})
    assert a == b and a.id == b.id and hash(a) == hash(b)
    assert Candidate.from_json(json.loads(json.dumps(a.to_json()))) == a
    assert Candidate.make({"width": 8, "depth": 2}, "kd", {"temperature": 4.0}).id != a.id


def test_space_contains_reference_and_samples_by_seed() -> None:
    track = load_suite("digits").tracks[0]
    space = track_space(track)
    names = {g.name for g in space.genes}
    assert {"width", "depth", "temperature", "kd_weight", "ce_weight"} <= names
    first = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    again = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    many = {space.sample(np.random.default_rng(s)).id for s in range(50)}
    assert len(many) > 40
    width = next(g for g in space.genes if g.name == "width")
    assert 8 in width.options  # the reference student is a point of the space
