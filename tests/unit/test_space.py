"""Candidates are frozen, hashable, JSON round-trip, and the space samples deterministically from its seed."""

from __future__ import annotations

import json

import numpy as np

from uniads_bench.candidate import Candidate
from uniads_bench.config import load_suite
from uniads_bench.space import track_space
from uniads_bench.space.space import Gene, Space


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


def test_nearest_snaps_numbers_in_log_scale_and_refuses_what_the_space_cannot_hold() -> None:
    from uniads_bench.space.space import Gene, Space

    space = Space((Gene("width", "arch", (4, 8, 16)), Gene("weight", "distill", (0.5, 2.0, 8.0)),
                   Gene("transform/distance", "distill", ("identity/kl", "softmax/l2"))), "uniads")
    point = space.nearest({"width": 8, "weight": 0.9, "transform": "identity", "distance": "kl"})
    assert point is not None and point.arch_dict == {"width": 8}
    assert point.hparams_dict == {"weight": 0.5, "transform": "identity", "distance": "kl"}  # 0.9: nearer 0.5
    assert space.nearest({"width": 8, "weight": 1.1, "transform": "identity", "distance": "kl"}).hparams_dict[
        "weight"] == 2.0
    assert space.nearest({"width": 8, "weight": 1.0, "transform": "tanh", "distance": "l1"}) is None
    assert space.nearest({"width": 8, "transform": "identity", "distance": "kl"}) is None  # a gene unset


def test_the_digits_tracks_start_from_kd_on_the_reference_student() -> None:
    from uniads_bench.config import load_suite
    from uniads_bench.space import known_points, track_space

    suite = load_suite("digits")
    points = {t.name: known_points(track_space(t), t, suite) for t in suite.tracks}
    [(method, exact)] = points["cnn"]  # vanilla and DKD are not points of a KD space
    assert method == "kd" and exact.hparams_dict == {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9}
    [(method, like)] = points["cnn-equal"]
    assert method == "kd" and like.arch_dict == {"width": 8, "depth": 1}
    assert like.hparams_dict == {"knowledge": "logits", "transform": "identity", "distance": "kl", "tau": 4.0,
                                 "weight": 0.5, "alpha": 0.5}  # KD's 0.9 and 0.1, snapped to the grid's options


def test_a_cifar100_track_starts_from_kd_and_dist_inter_class_half() -> None:
    from uniads_bench.config import load_suite
    from uniads_bench.space import known_points, track_space

    suite = load_suite("cifar100")
    track = suite.tracks[0]
    points = dict(known_points(track_space(track), track, suite))
    assert set(points) == {"kd", "dist"}  # vanilla and DKD are not points of the UniADS space
    assert {k: points["dist"].hparams_dict[k] for k in ("transform", "distance", "tau", "weight", "alpha")} == {
        "transform": "softmax", "distance": "pearson", "tau": 4.0, "weight": 2.0, "alpha": 1.0}


def test_a_value_equal_to_an_option_snaps_to_the_option_itself() -> None:
    # KD's temperature 4.0 on a space whose tau options are ints must give the candidate a table holds.
    space = Space((Gene("width", "arch", (8, 16)), Gene("tau", "distill", (1, 4))), "fake")
    point = space.nearest({"width": 8, "tau": 4.0})
    assert point is not None and point.id == space.nearest({"width": 8, "tau": 4}).id
    assert type(point.hparams_dict["tau"]) is int
