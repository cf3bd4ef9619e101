"""Golden decisions of NSGA-II + successive halving (+ shrinking) on a small synthetic problem.

`search_decisions.json` holds, for fixed seeds, every ask (candidate id, genes, epochs, guard), every
bracket's promotions, the final shrink weights and the chosen candidate. Any change in pymoo's operators,
our halving, shrinking or seeding shows up here. Regenerate, only when a decision rule deliberately
changes, with ``python tests/golden/test_search_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from uniads_bench.search.base import SearchSetup, make_searcher
from uniads_bench.search.evaluators import make_evaluator
from uniads_bench.search.loop import admit_all, one_at_a_time, search_loop

FIXTURE = Path(__file__).with_name("search_decisions.json")
CASES = [
    {"method": "uniads", "evaluator": "synthetic:smooth", "seed": 0, "options": {"pop_size": 6},
     "max_evaluations": 40},
    {"method": "uniads", "evaluator": "synthetic:rugged", "seed": 1, "options": {"pop_size": 9, "shrink_rate": 0.5},
     "max_evaluations": 60},
    {"method": "random+halving", "evaluator": "synthetic:rugged", "seed": 2, "options": {}, "max_evaluations": 26},
]


def decisions(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case against its synthetic evaluator (no budget, a fixed number of evaluations)."""
    evaluator = make_evaluator(case["evaluator"], case["seed"])
    setup = SearchSetup(evaluator.space, evaluator.param_cap, evaluator.max_epochs,
                        np.random.default_rng(case["seed"]), dict(case["options"]))
    searcher = make_searcher(case["method"], setup)
    history = search_loop(searcher, one_at_a_time(evaluator.evaluate), admit_all, case["max_evaluations"]).history
    out: dict[str, Any] = {
        "asks": [[o.ask.candidate.id, o.ask.candidate.describe(), o.ask.fidelity.epochs, o.ask.guard]
                 for o in history],
        "promotions": [b.promotions for b in searcher.brackets],
        "chosen": searcher.chosen().id if searcher.chosen() else None,
    }
    if hasattr(searcher, "shrink"):
        out["weights"] = {k: [round(float(x), 6) for x in v] for k, v in searcher.shrink.weights.items()}
    return out


def test_decisions_match_fixture() -> None:
    stored = json.loads(FIXTURE.read_text())
    assert [s["case"] for s in stored] == CASES
    for entry in stored:
        assert decisions(entry["case"]) == entry["decisions"], entry["case"]


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps([{"case": c, "decisions": decisions(c)} for c in CASES], indent=1) + "\n")
    print(f"wrote {FIXTURE}", file=sys.stderr)
