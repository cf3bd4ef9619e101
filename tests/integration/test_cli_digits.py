"""The real CLI end to end on the digits suite at a reduced budget: run, leaderboard, bad input, resume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCALE = "0.3"  # search rungs of 1 and 3 epochs, so successive halving has two fidelities
SEEDS = "0,1"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uniads_bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def small_suite(tmp: Path) -> str:
    """The digits suite with 70% of its search budget, so the end-to-end runs stay short on 2 cores (at this
    scale most of a search's budget pays for the teacher's epoch views, which bounds how far it can shrink)."""
    from importlib import resources

    text = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
    small = text.replace("budget_gpu_hours = 0.0005 ", "budget_gpu_hours = 0.00035 ")
    assert small != text
    path = tmp / "digits-small.toml"
    path.write_text(small)
    return str(path)


def run_args(tmp: Path) -> list[str]:
    """The `cnn` track only: `test_the_equal_parameter_track_...` runs `cnn-equal`, so each test stays short."""
    return ["--tracks", "cnn", "--budget-scale", SCALE, "--seeds", SEEDS, "--out", str(tmp / "runs"),
            "--leaderboard-dir", str(tmp / "boards"), "--cache-dir", str(tmp / "cache"), "--deterministic"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("digits")
    result = cli("run", small_suite(tmp), *run_args(tmp), cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, result


def test_run_prints_and_writes_a_leaderboard(finished_run) -> None:
    tmp, result = finished_run
    table_methods = {cell.strip() for line in result.stdout.splitlines() if line.startswith("|")
                     for cell in line.split("|")[2:3]}
    assert {"vanilla", "kd", "dkd", "random", "uniads"} <= table_methods
    board = json.loads((tmp / "boards" / "digits.json").read_text())
    rows = {r["method"]: r for r in board["rows"]}
    assert set(rows) == {"vanilla", "kd", "dkd", "random", "uniads"}
    for row in rows.values():
        assert row["kind"] == "measured" and row["n"] == 2 and len(row["top1_per_seed"]) == 2
        assert 10.0 < row["top1_mean"] <= 100.0  # better than chance on 10 classes
        assert row["hardware"] and row["git_commit"] and row["config_hash"]
    for search in ("random", "uniads"):
        assert rows[search]["search_evaluations"] > 0
        assert 0 < rows[search]["budget_used_gpu_hours"] <= rows[search]["budget_declared_gpu_hours"]
    assert rows["random"]["budget_declared_gpu_hours"] == rows["uniads"]["budget_declared_gpu_hours"]
    for search in ("random", "uniads"):  # mean final hypervolume of (val error, params / cap) w.r.t. (1, 1.1)
        assert 0.0 < rows[search]["hypervolume"] <= 1.1
    assert rows["kd"]["hypervolume"] is None and rows["vanilla"]["hypervolume"] is None
    for plot in ("pareto", "anytime"):  # written next to the board, from the run's journal
        assert (tmp / "boards" / f"digits-cnn-{plot}.png").stat().st_size > 1000
    markdown = (tmp / "boards" / "digits.md").read_text()
    assert "Track `cnn`" in markdown and "Teacher `digits_cnn_teacher`" in markdown


def test_a_run_shows_one_status_per_job_and_keeps_every_evaluation_in_its_log(finished_run) -> None:
    tmp, result = finished_run
    assert re.search(r"^\[cnn/kd/0\] done in \d+:\d\d: test top-1 \d+\.\d\d%$", result.stderr, re.M)
    assert re.search(r"^\[cnn/uniads/1\] search \d+% of [0-9.e-]+ h budget, \d+ evals", result.stderr, re.M)
    assert " ep: top-1 " not in result.stderr  # evaluation lines only with --verbose
    [run_log] = (tmp / "runs").glob("*/run.log")
    evaluations = [line for line in run_log.read_text().splitlines() if " ep: top-1 " in line]
    [journal] = (tmp / "runs").glob("*/journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(evaluations) == sum(r["type"] == "evaluation" for r in records) > 0


def test_run_directory_holds_config_journal_summary(finished_run) -> None:
    tmp, _ = finished_run
    (run_dir,) = list((tmp / "runs").iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["suite"]["name"] == "digits" and len(config["config_hash"]) == 64
    lines = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    records = [r for r in lines if r["type"] == "evaluation"]
    ends = {r["method"]: r for r in lines if r["type"] == "search" and r["seed"] == 0}
    assert ends["uniads"]["state"]["generations"] >= 1 and "sampling_weights" in ends["uniads"]["state"]
    assert ends["random"]["chosen"] is not None
    assert {e["stop_reason"] for e in ends.values()} <= {"budget", "exhausted", "max_evaluations"}
    finals = [r for r in records if r["phase"] == "final"]
    assert len(finals) == 10  # 5 methods x 2 seeds
    rungs = {r["epochs"] for r in records if r["key"].startswith("cnn/uniads/") and r["phase"] == "search"}
    assert len(rungs) > 1  # successive halving trained candidates at more than one fidelity
    assert all("charge_gpu_hours" in r and "wall_seconds" in r["result"] for r in records)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["tracks"]["cnn"]["teacher"]["test_top1"] > 80.0


def test_resume_of_a_finished_run_serves_the_journal(finished_run) -> None:
    tmp, _ = finished_run
    (run_dir,) = list((tmp / "runs").iterdir())
    before = json.loads((tmp / "boards" / "digits.json").read_text())
    journal_before = (run_dir / "journal.jsonl").read_text()
    result = cli("run", small_suite(tmp), *run_args(tmp), "--resume", str(run_dir), cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "journal.jsonl").read_text() == journal_before  # nothing trained again
    after = json.loads((tmp / "boards" / "digits.json").read_text())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    assert strip(after["rows"]) == strip(before["rows"])


def test_interrupted_run_resumes_to_the_same_leaderboard(finished_run, tmp_path) -> None:
    tmp, _ = finished_run
    (run_dir,) = list((tmp / "runs").iterdir())
    lines = (run_dir / "journal.jsonl").read_text().splitlines(keepends=True)
    partial = tmp_path / "runs" / run_dir.name
    partial.mkdir(parents=True)
    (partial / "config.json").write_text((run_dir / "config.json").read_text())
    # The run was killed mid-way: half the journal, and a torn record at its end.
    (partial / "journal.jsonl").write_text("".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:40])
    args = ["--tracks", "cnn", "--budget-scale", SCALE, "--seeds", SEEDS, "--out", str(tmp_path / "runs"),
            "--leaderboard-dir", str(tmp_path / "boards"), "--cache-dir", str(tmp / "cache"), "--deterministic"]
    result = cli("run", small_suite(tmp), *args, "--resume", str(partial), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "torn last line" in result.stderr
    ours = json.loads((tmp_path / "boards" / "digits.json").read_text())["rows"]
    theirs = json.loads((tmp / "boards" / "digits.json").read_text())["rows"]
    key = lambda r: (r["method"], r["top1_per_seed"], r["params"], r["budget_used_gpu_hours"])  # noqa: E731
    assert sorted(map(key, ours)) == sorted(map(key, theirs))


def test_search_ablations_run_as_methods_of_a_suite(finished_run, tmp_path) -> None:
    """UniADS with one part switched off, listed in a suite file: the journal shows the part missing."""
    tmp, _ = finished_run
    suite = Path(small_suite(tmp_path))
    suite.write_text(suite.read_text().replace('"uniads"]', '"uniads", "uniads:no-rejection", "uniads:no-halving"]'))
    result = cli("run", str(suite), "--tracks", "cnn", "--budget-scale", SCALE, "--seeds", "0", "--methods",
                 "uniads:no-rejection,uniads:no-halving", "--out", str(tmp_path / "runs"), "--leaderboard-dir",
                 str(tmp_path / "boards"), "--cache-dir", str(tmp / "cache"), "--deterministic", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (journal,) = (tmp_path / "runs").glob("*/journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]

    def searched(method: str) -> list[dict]:
        return [r for r in records if r["type"] == "evaluation" and r["phase"] == "search"
                and r["key"].split("/")[1] == method]

    assert searched("uniads:no-rejection") and not any(r["guard"] for r in searched("uniads:no-rejection"))
    (top,) = {r["epochs"] for r in searched("uniads:no-halving")}  # every ask at the top rung
    assert min(r["epochs"] for r in searched("uniads:no-rejection")) < top  # halving starts lower
    rows = json.loads((tmp_path / "boards" / "digits.json").read_text())["rows"]
    assert {r["method"] for r in rows if r["kind"] == "measured"} == {"uniads:no-rejection", "uniads:no-halving"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nosuch"], "unknown suite 'nosuch'"),
        (["nosuch"], "unknown command or suite 'nosuch'"),
        (["digits", "--methods", "kd,nosuch"], "unknown method 'nosuch'"),
        (["digits", "--tracks", "nosuch"], "unknown track 'nosuch'"),
        (["digits", "--seeds", "1,1"], "duplicates"),
        (["digits", "--budget-scale", "-1"], "budget-scale"),
        (["digits", "--bogus"], "No such option"),
        (["digits", "--resume", "not-a-run"], "is not a run directory"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message) -> None:
    result = cli(*args, "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "boards"), cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_suites_and_doctor(tmp_path) -> None:
    suites = cli("suites", cwd=tmp_path)
    assert suites.returncode == 0 and "digits" in suites.stdout
    assert "0.0005 h of cpu-2core-reference" in suites.stdout  # the budget's unit is the suite's profile
    doctor = cli("doctor", cwd=tmp_path)
    assert doctor.returncode == 0 and "torch" in doctor.stdout


PLUGIN = '''
import torch.nn.functional as F
from uniads_bench.distill import Distiller


class MyKD(Distiller):
    needs = frozenset({"logits"})

    def __init__(self, student, teacher, *, temperature=4.0):
        super().__init__(student, teacher)
        self.temperature = temperature

    def forward(self, student, teacher, target, progress):
        t = self.temperature
        kd = F.kl_div(F.log_softmax(student.logits / t, dim=1), F.log_softmax(teacher.logits / t, dim=1),
                      reduction="batchmean", log_target=True) * t * t
        return {"ce": 0.5 * F.cross_entropy(student.logits, target), "kd": 0.5 * kd}
'''


def test_compare_a_plugin_distiller_against_the_board(finished_run) -> None:
    tmp, _ = finished_run
    plugin = tmp / "my_kd.py"
    plugin.write_text(PLUGIN)
    result = cli("compare", small_suite(tmp), "--distiller", f"{plugin}:MyKD", "--hparams", '{"temperature": 2.0}',
                 *run_args(tmp), cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "user:MyKD top-1" in result.stdout
    for method in ("vanilla", "kd", "dkd", "random", "uniads"):
        assert f"| {method}" in result.stdout
    assert "Welch p" in result.stdout
    rows = {r["method"] for r in json.loads((tmp / "boards" / "digits.json").read_text())["rows"]}
    assert "user:MyKD" in rows
    broken = cli("compare", small_suite(tmp), "--distiller", f"{plugin}:Nope", *run_args(tmp), cwd=tmp)
    assert broken.returncode == 2 and "has no class or object 'Nope'" in broken.stderr



def test_compare_on_a_fresh_board_names_the_command_and_trains_the_baselines_when_asked(finished_run,
                                                                                         tmp_path) -> None:
    tmp, _ = finished_run
    plugin = tmp_path / "my_kd.py"
    plugin.write_text(PLUGIN)
    boards = tmp_path / "fresh"
    args = ["compare", "digits", "--distiller", f"{plugin}:MyKD", "--tracks", "cnn", "--seeds", "0,1",
            "--budget-scale", "0.3",
            "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(boards), "--cache-dir", str(tmp / "cache"),
            "--deterministic"]
    alone = cli(*args, "--verbose", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert "[cnn/user:MyKD/1/final] " in alone.stderr  # --verbose: every evaluation's line
    assert "no measured rows on " in alone.stdout and "budget scale 0.3" in alone.stdout
    assert (f"uniads-bench run digits --tracks cnn --methods vanilla,kd,dkd --seeds 0,1 --budget-scale 0.3 "
            f"--leaderboard-dir {boards}") in alone.stdout
    together = cli(*args, "--with-baselines", cwd=tmp_path)
    assert together.returncode == 0, together.stderr[-3000:]
    assert all(re.search(rf"\| {m} +\|", together.stdout) for m in ("vanilla", "kd", "dkd"))
    assert "Welch p" in together.stdout and "no measured rows" not in together.stdout
    rows = json.loads((boards / "digits.json").read_text())["rows"]
    assert {r["method"] for r in rows if r["kind"] == "measured"} == {"user:MyKD", "vanilla", "kd", "dkd"}
    assert {r["budget_scale"] for r in rows if r["kind"] == "measured"} == {0.3}

def _readiness(doctor: str, suite: str, needs: str) -> list[str]:
    """The (found, to fix) cells of one row of doctor's readiness table."""
    for line in doctor.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] == suite and cells[1].startswith(needs):
            return cells[2:]
    raise AssertionError(f"no {suite} / {needs} row in:\n{doctor}")


def test_doctor_says_per_suite_what_is_ready_and_the_command_for_what_is_not(tmp_path) -> None:
    from tests.unit.data_fakes import write_cifar_pickles

    data, cache = tmp_path / "data", tmp_path / "cache"
    write_cifar_pickles(data, "cifar10", byte_keys=True)
    args = ("doctor", "--data-dir", str(data), "--cache-dir", str(cache))
    before = cli(*args, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    found, fix = _readiness(before.stdout, "cifar10_cpu", "data cifar10")
    assert "not prepared" in found and fix == f"uniads-bench data prepare cifar10 --data-dir {data}"
    found, fix = _readiness(before.stdout, "cifar100", "data cifar100")
    assert found == f"not found under {data}" and "cifar-100-python" in fix
    assert _readiness(before.stdout, "cifar10_cpu", "teacher res20_res8")[1].startswith(
        "then uniads-bench teacher train cifar10_cpu res20_res8")
    assert _readiness(before.stdout, "digits", "teacher cnn") == [
        f"not cached under {cache}", "uniads-bench teacher train digits cnn"]
    assert _readiness(before.stdout, "imagenet", "teacher res34_res18")[1].startswith(
        "uniads-bench teacher import imagenet res34_res18 PATH")

    assert cli("data", "prepare", "cifar10", "--data-dir", str(data), cwd=tmp_path).returncode == 0
    assert cli("teacher", "train", "digits", "cnn", "--cache-dir", str(cache), cwd=tmp_path).returncode == 0
    after = cli(*args, cwd=tmp_path)
    assert _readiness(after.stdout, "cifar10_cpu", "data cifar10") == [
        "prepared: 20 train / 6 test images from torchvision", "ready"]
    found, fix = _readiness(after.stdout, "digits", "teacher cnn")
    assert re.fullmatch(r"cached: test top-1 \d+\.\d\d%, sha256 [0-9a-f]{12}, trained on 1437 images", found)
    assert fix == "ready"
    assert "pieces ready" in after.stdout.splitlines()[-1]


def test_the_committed_board_is_shown_outside_the_checkout(tmp_path) -> None:
    """`leaderboard show` from any directory falls back to the committed board; without a copy it says where."""
    import os

    shown = cli("leaderboard", "show", "digits", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("# Leaderboard: digits"), shown.stderr
    assert "this is the committed board at" in shown.stderr
    own = cli("leaderboard", "show", "digits", "--leaderboard-dir", str(tmp_path), cwd=tmp_path)
    assert own.returncode == 2 and "pass --leaderboard-dir DIR" in own.stderr  # a named directory is never replaced
    env = {**os.environ, "UNIADS_COMMITTED_BOARDS": str(tmp_path / "none")}
    bare = subprocess.run([sys.executable, "-m", "uniads_bench", "leaderboard", "show", "digits"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)
    assert bare.returncode == 2 and "leaderboards/ folder of the uniads-bench repository" in bare.stderr


def test_listing_the_suites_imports_no_torch() -> None:
    """`suites` answers without the training stack (torch alone takes seconds to import on a busy machine)."""
    probe = ("import sys; from click.testing import CliRunner; from uniads_bench.cli import cli; "
             "out = CliRunner().invoke(cli, ['suites']); assert out.exit_code == 0, out.output; "
             "print(sorted(m for m in ('torch', 'torchvision', 'ray', 'datasets') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_equal_parameter_track_searches_uniads_genes_from_kd_within_the_reference_size(finished_run,
                                                                                           tmp_path) -> None:
    tmp, _ = finished_run
    result = cli("run", "digits", "--tracks", "cnn-equal", "--methods", "kd,uniads", "--seeds", "0",
                 "--budget-scale", SCALE, "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "b"),
                 "--cache-dir", str(tmp / "cache"), "--deterministic", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["method"]: r for r in json.loads((tmp_path / "b" / "digits.json").read_text())["rows"]}
    assert rows["uniads"]["params"] <= rows["kd"]["params"] == 1442  # the cap is the reference student
    [journal] = (tmp_path / "runs").glob("*/journal.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    [end] = [r for r in records if r["type"] == "search"]
    kd_like = "uniads[depth=1 width=8 alpha=0.5 distance=kl knowledge=logits tau=4.0 transform=identity weight=0.5]"
    assert end["state"]["known"] == [kd_like]  # KD, as the nearest point of the track's UniADS grid
    first = next(r for r in records if r["type"] == "evaluation" and r["phase"] == "search")
    assert first["candidate"]["hparams"] == {"alpha": 0.5, "distance": "kl", "knowledge": "logits", "tau": 4.0,
                                             "transform": "identity", "weight": 0.5}
