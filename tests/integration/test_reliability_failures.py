"""The failure budget: a search whose plug-in crashes on every candidate aborts early with a summary and
exit code 3, instead of spending its whole budget on crashes."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

CRASH = '''
from uniads_bench.distill import Distiller


class Crash(Distiller):
    needs = frozenset({"logits"})

    def forward(self, student, teacher, target, progress):
        if len(target) > 4:  # passes the 4-image contract probe, then crashes on every real batch
            raise RuntimeError("plug-in bug")
        return {"ce": student.logits.sum() * 0.0}
'''


def crashing_suite(tmp_path: Path) -> Path:
    """The digits suite searching only the crashing plug-in, with a failure window of 4."""
    (tmp_path / "crash.py").write_text(CRASH)
    text = resources.files("uniads_bench.suites").joinpath("digits.toml").read_text()
    text = text[: text.index("[tracks.space.distill]")]
    for old, new in (('distiller = "kd"', f'distiller = "{tmp_path / "crash.py"}:Crash"'),
                     ('methods = ["vanilla", "kd", "dkd", "random", "uniads"]', 'methods = ["random"]'),
                     ("[search]", "[search]\nfailure_window = 4")):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "crash.toml"
    path.write_text(text)
    return path


def test_crashing_plugin_aborts_the_search_with_a_summary(tmp_path, digits_cache) -> None:
    suite = crashing_suite(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "uniads_bench", "run", str(suite), "--budget-scale", "0.1", "--seeds", "0",
         "--out", str(tmp_path / "runs"), "--leaderboard-dir", str(tmp_path / "boards"), "--cache-dir",
         str(digits_cache), "--deterministic"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 3, done.stderr[-3000:]
    assert "error: search cnn/random/0 aborted: 3 of the last 4 evaluations failed" in done.stderr
    assert "RuntimeError: plug-in bug" in done.stderr and "Traceback" not in done.stderr
    (run_dir,) = list((tmp_path / "runs").iterdir())
    aborted = json.loads((run_dir / "aborted.json").read_text())
    assert aborted["search"] == "cnn/random/0" and len(aborted["recent"]) == 4
    records = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    failed = [r for r in records if r["type"] == "evaluation" and r["result"]["status"] == "failed"]
    assert len(failed) == 3 and "plug-in bug" in failed[-1]["result"]["traceback"]
    [end] = [r for r in records if r["type"] == "search"]
    assert end["stop_reason"] == "failures" and end["chosen"] is None
    assert not (tmp_path / "boards").exists() and not (run_dir / "run.lock").exists()
