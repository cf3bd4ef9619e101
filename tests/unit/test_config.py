"""Suite files: shipped suites load; every problem of a bad file is reported at once with its dotted path."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from uniads_bench.config import known_suites, load_suite, parse_suite, reference_params
from uniads_bench.errors import UserError


def digits_data() -> dict:
    return tomllib.loads(resources.files("uniads_bench.suites").joinpath("digits.toml").read_text())


def test_shipped_suites_load() -> None:
    assert "digits" in known_suites()
    suite = load_suite("digits")
    assert suite.tracks[0].student_family == "digits_cnn"
    assert len(suite.seeds) >= 3


def test_schema_problems_reported_together_with_dotted_paths() -> None:
    data = digits_data()
    data["bogus"] = 1
    data["recipe"]["epochs"] = "many"
    data["tracks"][0]["param_cap"] = 1.5
    del data["search"]["epochs"]
    with pytest.raises(UserError) as info:
        parse_suite(data, "test suite")
    assert info.value.problems == [
        "bogus: unknown key; allowed: name, dataset, description, seeds, val_count, split_seed, hardware_profile, "
        "methods, recipe, teacher_recipe, search, tracks, final_resolution, loader_workers",
        "recipe.epochs: expected int, got str 'many'",
        "search.epochs: required key is missing",
        "tracks[0].param_cap: expected int, got float 1.5",
    ]


def test_semantic_problems_reported_together() -> None:
    data = digits_data()
    data["seeds"] = [1, 1]
    data["search"]["budget_gpu_hours"] = -1.0
    data["methods"] = ["vanilla", "kdd"]
    data["tracks"][0]["space"]["distiller"] = "kdd"
    data["tracks"][0]["student_family"] = "nope"
    with pytest.raises(UserError) as info:
        parse_suite(data)
    text = str(info.value)
    assert "seeds: duplicate" in text
    assert "search.budget_gpu_hours: must be >= 0" in text
    assert "methods[1]: unknown method 'kdd'" in text
    assert "tracks[0].space.distiller" in text and "Did you mean 'kd'" in text
    assert "tracks[0].student_family: unknown student family 'nope'" in text


def test_reference_cap_resolves_to_the_reference_students_size() -> None:
    data = digits_data()
    data["tracks"][0]["param_cap"] = "reference"
    del data["tracks"][0]["cap_note"]
    assert parse_suite(data).tracks[0].param_cap == 1442  # width 8, depth 1 on 10 classes


def test_shipped_caps_equal_the_reference_student_unless_a_note_says_why() -> None:
    for name in known_suites():
        for track in load_suite(name).tracks:
            assert isinstance(track.param_cap, int)
            assert track.cap_note or track.param_cap == reference_params(track, load_suite(name).dataset), track.name


def test_unknown_suite_lists_known() -> None:
    with pytest.raises(UserError, match="known suites: .*digits"):
        load_suite("nope")


def test_malformed_toml(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_suite(str(bad))


def test_config_hash_is_stable_and_sensitive() -> None:
    a = load_suite("digits")
    assert a.config_hash() == load_suite("digits").config_hash()
    data = digits_data()
    data["search"]["epochs"] = 11
    assert parse_suite(data).config_hash() != a.config_hash()
