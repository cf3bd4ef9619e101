"""Anytime metrics of a search: hypervolume and best error versus budget spent.

Only feasible results at the top fidelity count (a 3-epoch score is not a result a user could pick).
Objectives are normalised with fixed, run-independent scales: error = 1 - top1/100 in [0, 1] and
params / cap; the hypervolume reference point is `REFERENCE_POINT` = (1.0, 1.1), 10% beyond the cap so a
candidate exactly at the cap still counts. Before any feasible full-fidelity result, hypervolume is 0 and
best error is 1.0 (the error of having no model), so curves and averages are defined from the first charge.
Works on `SearchTrace`s and on run journals (`journal_observations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pymoo.indicators.hv import HV

from uniads_bench.journal import JournalRecord, evaluations
from uniads_bench.results import Fidelity
from uniads_bench.search.base import Ask, Observation, feasible

REFERENCE_POINT = (1.0, 1.1)
NO_RESULT_ERROR = 1.0


@dataclass(frozen=True)
class AnytimePoint:
    """Metrics of the archive after spending `spent` (a `fraction` of the budget)."""

    fraction: float
    spent: float
    hypervolume: float
    best_error: float


def normalised_points(observations: Iterable[Observation], param_cap: int, max_epochs: int) -> np.ndarray:
    """Rows (error, params / cap) of the feasible observations at `max_epochs`."""
    rows = [(1.0 - o.result.top1 / 100.0, o.result.params / param_cap) for o in observations
            if o.ask.fidelity.epochs == max_epochs and feasible(o.result, param_cap)]
    return np.array(rows, dtype=float).reshape(-1, 2)


def hypervolume(points: np.ndarray, reference: Sequence[float] = REFERENCE_POINT) -> float:
    """Hypervolume (pymoo/moocore) of normalised points against the fixed reference point; 0 for none."""
    if len(points) == 0:
        return 0.0
    return float(HV(ref_point=np.asarray(reference, dtype=float))(points))


def anytime(observations: Sequence[Observation], charges: Sequence[float], budget: float, param_cap: int,
            max_epochs: int, fractions: Sequence[float] = (0.25, 0.5, 1.0)) -> list[AnytimePoint]:
    """Hypervolume and best error of the archive of evaluations completed within each budget fraction."""
    spent = np.cumsum(np.asarray(charges, dtype=float))
    out = []
    for fraction in fractions:
        n = int(np.searchsorted(spent, fraction * budget + 1e-12, side="right"))
        points = normalised_points(observations[:n], param_cap, max_epochs)
        best = float(points[:, 0].min()) if len(points) else NO_RESULT_ERROR
        out.append(AnytimePoint(fraction, float(spent[n - 1]) if n else 0.0, hypervolume(points), best))
    return out


def journal_observations(records: Iterable[JournalRecord]) -> tuple[list[Observation], list[float]]:
    """Search observations and their charges (GPU-hours) from a run journal's records, in order."""
    observations, charges = [], []
    for record in evaluations(records, "search"):
        observations.append(Observation(Ask(record.candidate, Fidelity(record.epochs), record.guard), record.result))
        charges.append(record.charge_gpu_hours)
    return observations, charges
