"""Bad input never gives a traceback: each case of the bad-input table exits 2 with a one-line head and
writes nothing, and hypothesis-mutated suite files and command-line options only ever raise `UserError`
(or click's usage errors), never anything else."""

from __future__ import annotations

import copy
import json
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uniads_bench.runner.run as run_module
from uniads_bench.cli import cli, main
from uniads_bench.config import load_suite, parse_suite
from uniads_bench.durable import atomic_write_json
from uniads_bench.errors import UserError
from uniads_bench.runner.options import RunOptions, resolve_suite
from uniads_bench.runner.rundir import config_record

DIGITS_TEXT = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
DIGITS = tomllib.loads(DIGITS_TEXT)
BROKEN_IMPORT = "import not_a_module_anywhere\n"
NOT_A_DISTILLER = "class MyKD:\n    pass\n"
PLUGINS = """
import torch
from uniads_bench.distill import Distiller


class Tensor(Distiller):
    def forward(self, student, teacher, target, progress):
        return torch.nn.functional.cross_entropy(student.logits, target)


class NaN(Distiller):
    def forward(self, student, teacher, target, progress):
        ce = torch.nn.functional.cross_entropy(student.logits, target)
        return {"ce": ce, "kd": ce * float("nan")}


class Crash(Distiller):
    def forward(self, student, teacher, target, progress):
        return {"ce": 1 / 0}


class NoCE(Distiller):
    def forward(self, student, teacher, target, progress):
        return {"kd": (student.logits - teacher.logits).pow(2).mean()}
"""
METHOD_HPARAMS = "param_cap = 6000\nmethod_hparams = {{ kd = {{ {} }} }}"
CAP_NOTE = next(line for line in DIGITS_TEXT.splitlines() if line.startswith("cap_note = "))


def suite_file(tmp_path: Path, old: str, new: str) -> str:
    """The digits suite file with one text edit, written under `tmp_path`."""
    text = DIGITS_TEXT.replace(old, new, 1)
    assert text != DIGITS_TEXT, old
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return str(path)


def broken_run(tmp_path: Path) -> Path:
    """A directory that looks like a run but whose config.json is not JSON."""
    run_dir = tmp_path / "broken-run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{not json")
    return run_dir


def damaged_board(tmp_path: Path) -> Path:
    """A leaderboard directory whose digits board is cut off mid-file."""
    boards = tmp_path / "my-boards"
    boards.mkdir()
    (boards / "digits.json").write_text('{"suite": "digits", "rows": [')
    return boards


def changed_config_run(tmp_path: Path, **changes: Any) -> str:
    """A run directory whose config was written with other options (default: another budget scale)."""
    options = RunOptions(**{"budget_scale": 0.5, "seeds": (0,), **changes})
    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    atomic_write_json(run_dir / "config.json", config_record(resolve_suite(load_suite("digits"), options), options))
    return str(run_dir)


BAD_INPUT = [
    ("malformed-toml", lambda t: ["run", str(t / "bad.toml")], "is not valid TOML"),
    ("unknown-key", lambda t: ["run", suite_file(t, "[search]", "[search]\nbogus = 1")], "search.bogus: unknown key"),
    ("wrong-type", lambda t: ["run", suite_file(t, "epochs = 30", 'epochs = "many"')], "recipe.epochs: expected int"),
    ("negative-budget", lambda t: ["run", suite_file(t, "budget_gpu_hours = 0.0005", "budget_gpu_hours = -1.0")],
     "search.budget_gpu_hours: must be >= 0"),
    ("bad-failure-share", lambda t: ["run", suite_file(t, "[search]", "[search]\nmax_failure_share = 1.5")],
     "search.max_failure_share: must be in [0, 1]"),
    ("duplicate-seeds", lambda t: ["run", suite_file(t, "seeds = [0, 1, 2, 3, 4]", "seeds = [1, 1]")],
     "seeds: duplicate seeds"),
    ("unknown-method", lambda t: ["run", suite_file(t, '"uniads"]', '"kdd"]')], "unknown method 'kdd'"),
    ("unknown-method-variant", lambda t: ["run", suite_file(t, '"uniads"]', '"uniads:no-nsga"]')],
     "unknown variant 'no-nsga' of method 'uniads'; known: uniads:no-halving"),
    ("unknown-distiller", lambda t: ["run", suite_file(t, 'distiller = "kd"', 'distiller = "kdd"')],
     "tracks[0].space.distiller"),
    ("missing-key", lambda t: ["run", suite_file(t, "epochs = 10", "epochz = 10")], "search.epochs: required key"),
    ("misspelt-method-hparam", lambda t: ["run", suite_file(t, "param_cap = 6000", METHOD_HPARAMS.format(
        "temprature = 4.0"))], "tracks[0].method_hparams.kd.temprature: not a hyperparameter of distiller 'kd' "
     "(did you mean 'temperature'?)"),
    ("method-hparam-wrong-type", lambda t: ["run", suite_file(t, "param_cap = 6000", METHOD_HPARAMS.format(
        'kd_weight = "big"'))], "tracks[0].method_hparams.kd.kd_weight: expected a number, got str 'big'"),
    ("misspelt-space-gene", lambda t: ["run", suite_file(t, "kd_weight = [", "kd_wieght = [")],
     "tracks[0].space.distill.kd_wieght: not a hyperparameter of distiller 'kd'"),
    ("unknown-teacher", lambda t: ["run", suite_file(t, 'teacher = "digits_cnn_teacher"', 'teacher = "resnet_99"')],
     "tracks[0].teacher: unknown model 'resnet_99'"),
    ("cap-differs-from-reference", lambda t: ["run", suite_file(t, CAP_NOTE, "")],
     "tracks[0].param_cap: 6,000 differs from the reference student's 1,442 parameters"),
    ("cap-not-a-number", lambda t: ["run", suite_file(t, "param_cap = 6000", 'param_cap = "biggest"')],
     'tracks[0].param_cap: a parameter count or "reference"'),
    ("nan-learning-rate", lambda t: ["run", suite_file(t, "lr = 0.05", "lr = nan")],
     "recipe.lr: must be a finite number, got nan"),
    ("infinite-budget", lambda t: ["run", suite_file(t, "budget_gpu_hours = 0.0005", "budget_gpu_hours = inf")],
     "search.budget_gpu_hours: must be a finite number, got inf"),
    ("unknown-track-option", lambda t: ["digits", "--tracks", "nosuch"], "unknown track 'nosuch'"),
    ("plugin-fails-to-import", lambda t: ["compare", "digits", "--distiller", f"{t / 'broken.py'}:MyKD"],
     "failed to import: ModuleNotFoundError"),
    ("plugin-breaks-contract", lambda t: ["compare", "digits", "--distiller", f"{t / 'plain.py'}:MyKD"],
     "is not a subclass of uniads_bench.distill.Distiller"),
    ("plugin-returns-a-tensor", lambda t: ["compare", "digits", "--distiller", f"{t / 'plugins.py'}:Tensor"],
     "breaks the distiller contract on a first batch of 4 images: forward returned Tensor, not a dict"),
    ("plugin-returns-nan", lambda t: ["compare", "digits", "--distiller", f"{t / 'plugins.py'}:NaN"],
     "loss term 'kd' is nan"),
    ("plugin-crashes", lambda t: ["compare", "digits", "--distiller", f"{t / 'plugins.py'}:Crash"],
     "fails on a first batch of 4 images: ZeroDivisionError"),
    ("plugin-without-ce", lambda t: ["compare", "digits", "--distiller", f"{t / 'plugins.py'}:NoCE"],
     'no "ce" term (terms: kd)'),
    ("compare-hparam-wrong-type", lambda t: ["compare", "digits", "--distiller", "kd", "--hparams",
                                             '{"kd_weight": "big"}'], "kd_weight: expected a number, got str 'big'"),
    ("batch-larger-than-the-split", lambda t: ["run", suite_file(t, "batch_size = 64", "batch_size = 1000000000")],
     "recipe.batch_size: 1,000,000,000 is larger than the 1,167 images it is drawn from"),
    ("out-not-writable", lambda t: ["digits", "--seeds", "0", "--out", "/proc/uniads-bench-runs"],
     "cannot create the run directory /proc/uniads-bench-runs/digits-"),
    ("resume-config-does-not-parse", lambda t: ["digits", "--resume", str(broken_run(t))],
     "config.json does not parse"),
    ("damaged-board", lambda t: ["digits", "--seeds", "0", "--leaderboard-dir", str(damaged_board(t))],
     "is damaged"),
    ("suite-is-a-directory", lambda t: ["run", str(t)], "is a directory; expected a suite name (cifar10"),
    ("missing-data-dir", lambda t: ["cifar100", "--data-dir", str(t / "no-data")], "no-data"),
    ("resume-changed-config", lambda t: ["digits", "--budget-scale", "0.1", "--seeds", "0", "--resume",
                                         changed_config_run(t)], "the config changed"),
    ("resume-changed-precision", lambda t: ["digits", "--budget-scale", "0.5", "--seeds", "0", "--resume",
                                            changed_config_run(t, precision="bf16")], "precision: 'bf16' -> 'auto'"),
    ("resume-not-a-run", lambda t: ["digits", "--resume", str(t)], "is not a run directory"),
]


@pytest.mark.parametrize(("args", "message"), [pytest.param(a, m, id=i) for i, a, m in BAD_INPUT])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, monkeypatch, capsys, args, message) -> None:
    (tmp_path / "bad.toml").write_text("name = \n")
    (tmp_path / "broken.py").write_text(BROKEN_IMPORT)
    (tmp_path / "plain.py").write_text(NOT_A_DISTILLER)
    (tmp_path / "plugins.py").write_text(PLUGINS)
    out = tmp_path / "out"
    argv = args(tmp_path)
    defaults = [[flag, value] for flag, value in (("--out", str(out)), ("--leaderboard-dir", str(out / "boards")))
                if flag not in argv]
    monkeypatch.setattr(sys, "argv", ["uniads-bench", *argv, *sum(defaults, [])])
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert message in err and err.startswith("error: ") and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written: no run directory, no board


# Values of every TOML type, and containers of them, to put anywhere in a suite.
TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _slots(node: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path, key) of a parsed TOML document."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    slots = []
    for key, value in items:
        slots.append((path, key))
        slots += _slots(value, (*path, key))
    return slots


@st.composite
def mutated_suites(draw: st.DrawFn) -> dict[str, Any]:
    """The digits suite after 1-3 random edits: a value replaced, a key deleted, an unknown key added."""
    data = copy.deepcopy(DIGITS)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(data)
        if not slots:
            break
        path, key = draw(st.sampled_from(slots))
        parent: Any = data
        for part in path:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(TOML_VALUES)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = draw(TOML_VALUES)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_suites())
def test_mutated_suites_parse_or_raise_user_error(data: dict[str, Any]) -> None:
    try:
        parse_suite(data, "mutated")
    except UserError as exc:
        assert str(exc).strip()


OPTION_VALUES = {
    "--seeds": st.lists(st.integers(-3, 3), max_size=4).map(lambda s: ",".join(map(str, s))) | st.text(max_size=5),
    "--methods": st.lists(st.sampled_from(["kd", "vanilla", "random", "uniads", "kdd", ""]), max_size=3).map(",".join),
    "--tracks": st.sampled_from(["cnn", "nosuch", "", "cnn,cnn"]),
    "--budget-scale": st.sampled_from(["0.1", "0", "-1", "nan", "inf", "x", "1e-9"]),
    "--data-limit": st.sampled_from(["0", "5", "19", "20", "400", "x", "-3"]),
    "--device": st.sampled_from(["cpu", "auto", "tpu"]),
}


class Validated(Exception):
    """Raised by the stand-in for `run_suite` once the options passed validation."""


def validate_only(name: str, options: RunOptions, log: Any = None, extra: Any = None, progress: Any = None) -> None:
    resolve_suite(load_suite(name), options)
    raise Validated


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(sorted(OPTION_VALUES)), st.just(None), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({k: OPTION_VALUES[k] for k in chosen})))
def test_cli_options_never_give_a_traceback(monkeypatch, options: dict[str, str]) -> None:
    monkeypatch.setattr(run_module, "run_suite", validate_only)
    args = ["digits"] + [part for flag, value in options.items() for part in (flag, value)]
    result = CliRunner().invoke(cli, args, standalone_mode=False)
    assert isinstance(result.exception, UserError | click.ClickException | Validated), (
        args, json.dumps(str(result.exception)), result.exc_info)


@pytest.mark.parametrize("command", [["run", "digits"], ["data", "prepare", "cifar10"]])
def test_workers_0_means_the_same_everywhere_an_error(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--workers", "0"])
    assert result.exit_code == 2 and "Invalid value for '--workers': 0 is not in the range x>=1" in result.output
