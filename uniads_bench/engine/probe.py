"""The distiller contract, checked on a first tiny batch before anything trains.

A plug-in distiller that crashes, returns a tensor instead of named terms, returns NaN or takes a string
where a number belongs would otherwise train (and fail) on every candidate and publish a 0% or chance-level
row. `probe_distiller` builds the candidate's student and distiller, runs one forward pass of both networks
on a few images and checks what the distiller returns, so the run stops with one line naming the fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from uniads_bench.candidate import Candidate
from uniads_bench.distill import Progress, build_distiller, get_distiller
from uniads_bench.errors import UserError
from uniads_bench.models.family import StudentFamily


def probe_distiller(candidate: Candidate, family: StudentFamily, num_classes: int, teacher: nn.Module, x: Tensor,
                    y: Tensor) -> None:
    """Raise UserError unless `candidate`'s distiller, on the images `x` with labels `y`, returns a dict of
    finite scalar loss terms with a ``"ce"`` term (or declares ``has_ce = False``).

    The teacher may be untrained: the contract is about shapes and types, not accuracy.
    """
    spec = candidate.distiller
    cls = get_distiller(spec)
    student = family.build(candidate.arch_dict, num_classes)
    distiller = build_distiller(spec, student.tap_dims(), teacher.tap_dims(), candidate.hparams_dict)
    needs = cls.needs_for(candidate.hparams_dict)
    student.train()
    distiller.train()
    with torch.no_grad():
        teacher_taps = teacher.eval().forward_taps(x, stages=True) if needs else None
    where = f"distiller {spec!r} with {candidate.hparams_dict or 'no hyperparameters'}"
    try:
        terms = distiller(student.forward_taps(x, stages="stages" in needs), teacher_taps, y, Progress(0.0, 1))
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{where} fails on a first batch of {len(x)} images: {type(exc).__name__}: {exc}") from exc
    problem = _terms_problem(terms, cls.has_ce)
    if problem:
        raise UserError(f"{where} breaks the distiller contract on a first batch of {len(x)} images: {problem}")


def _terms_problem(terms: object, has_ce: bool) -> str | None:
    if not isinstance(terms, Mapping):
        return (f"forward returned {type(terms).__name__}, not a dict of named loss terms "
                '(e.g. {"ce": ..., "kd": ...})')
    if not terms:
        return "forward returned no loss terms"
    for name, term in terms.items():
        if not isinstance(term, Tensor) or term.numel() != 1:
            shape = tuple(term.shape) if isinstance(term, Tensor) else type(term).__name__
            return f"loss term {name!r} is not a scalar tensor ({shape})"
        if not math.isfinite(float(term.detach())):
            return f"loss term {name!r} is {float(term.detach())}"
    if has_ce and "ce" not in terms:
        return (f'no "ce" term (terms: {", ".join(terms)}); name the cross-entropy term "ce", or set '
                "has_ce = False on a distiller that trains without it")
    return None
