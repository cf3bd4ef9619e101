"""Golden losses: every named distiller against an independent NumPy reimplementation of its paper's formula.

`distill_losses.json` holds seeded inputs (as lists), the cases, the expected totals computed by the NumPy
reference below in float64, and the tolerances. The tests check both that the reference still reproduces the
stored values (the fixture and the reference have not drifted apart) and that our torch distillers reproduce
them. Regenerate the fixture, only when a formula deliberately changes, with
``python tests/golden/test_distill_golden.py``.

The references follow the papers' formulas directly (probabilities, renormalised non-target distributions,
explicit block pooling), not our implementation's numerically stable rewrites.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from uniads_bench.distill import Progress, build_distiller, get_distiller, list_distillers
from uniads_bench.models.taps import TapDims, Taps

FIXTURE = Path(__file__).with_name("distill_losses.json")
SEED = 20240101
RTOL, ATOL = 2e-5, 1e-6

Array = np.ndarray


def np_softmax(x: Array) -> Array:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_ce(logits: Array, target: Array) -> float:
    p = np_softmax(logits)
    return float(-np.mean(np.log(p[np.arange(len(target)), target])))


def np_kl(p: Array, q: Array) -> float:
    """Mean over rows of sum_j p log(p / q)."""
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def ref_kd(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    t = hp.get("temperature", 4.0)
    kd = np_kl(np_softmax(x["t_logits"] / t), np_softmax(x["s_logits"] / t)) * t**2
    return hp.get("ce_weight", 0.1) * np_ce(x["s_logits"], x["target"]) + hp.get("kd_weight", 0.9) * kd


def ref_ce(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    return np_ce(x["s_logits"], x["target"])


def ref_dkd(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    """Zhao et al. 2022, eq. (1)-(6): binary target/non-target KL plus KL of the renormalised non-target part."""
    t, alpha, beta = hp.get("temperature", 4.0), hp.get("alpha", 1.0), hp.get("beta", 8.0)
    target = x["target"]
    rows = np.arange(len(target))

    def split(logits: Array) -> tuple[Array, Array]:
        p = np_softmax(logits / t)
        p_gt = p[rows, target]
        binary = np.stack([p_gt, 1.0 - p_gt], axis=1)
        keep = np.ones_like(p, dtype=bool)
        keep[rows, target] = False
        rest = p[keep].reshape(len(target), -1)
        return binary, rest / rest.sum(axis=1, keepdims=True)

    b_s, r_s = split(x["s_logits"])
    b_t, r_t = split(x["t_logits"])
    # mdistiller: min(epoch / warmup, 1) with the 1-indexed epoch of a 240-epoch run.
    ramp = min((np.floor(epoch) + 1) / hp.get("warmup_epochs", 20.0), 1.0)
    kd = alpha * np_kl(b_t, b_s) + beta * np_kl(r_t, r_s)
    return np_ce(x["s_logits"], target) + ramp * kd * t**2


def np_pearson_rows(a: Array, b: Array) -> Array:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-8)


def ref_dist(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    """Huang et al. 2022, eq. (5)-(8): inter- and intra-class Pearson relations of softmax(z / tau)."""
    tau = hp.get("tau", 4.0)
    y_s, y_t = np_softmax(x["s_logits"] / tau), np_softmax(x["t_logits"] / tau)
    inter = 1.0 - np_pearson_rows(y_s, y_t).mean()
    intra = 1.0 - np_pearson_rows(y_s.T, y_t.T).mean()
    return np_ce(x["s_logits"], x["target"]) + 2.0 * tau**2 * (inter + intra)


def ref_fitnet(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    """Romero et al. 2015 with the references' ConvReg: squared error between relu(bn(conv1x1(student hint))),
    BatchNorm with batch statistics (training mode, biased variance, eps 1e-5), and the teacher's stage 1."""
    hint = np.einsum("oc,nchw->nohw", x["adapter_weight"], x["s_stage1"]) + x["adapter_bias"][None, :, None, None]
    mean, var = hint.mean(axis=(0, 2, 3), keepdims=True), hint.var(axis=(0, 2, 3), keepdims=True)
    hint = np.maximum((hint - mean) / np.sqrt(var + 1e-5), 0.0)
    return np_ce(x["s_logits"], x["target"]) + 100.0 * float(np.mean((hint - x["t_stage1"]) ** 2))


def np_block_mean(f: Array, size: int) -> Array:
    n, c, h, w = f.shape
    return f.reshape(n, c, size, h // size, size, w // size).mean(axis=(3, 5))


def ref_at(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    """Zagoruyko & Komodakis 2017, eq. (2): squared distance of L2-normalised attention maps, p = 2."""

    def attention(f: Array) -> Array:
        a = (f**2).mean(axis=1).reshape(len(f), -1)
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    total = 0.0
    for i in range(2):
        s, t = x[f"s_stage{i}"], x[f"t_stage{i}"]
        t = np_block_mean(t, s.shape[2]) if t.shape[2] > s.shape[2] else t
        total += float(np.mean((attention(s) - attention(t)) ** 2))
    return np_ce(x["s_logits"], x["target"]) + 1000.0 * total


NP_TRANSFORMS = {
    "identity": lambda a: a,
    "softmax": np_softmax,
    "log_softmax": lambda a: np.log(np_softmax(a)),
    "batchnorm": lambda a: (a - a.mean(axis=0)) / np.sqrt(a.var(axis=0) + 1e-5),
    "layernorm": lambda a: (a - a.mean(axis=1, keepdims=True)) / np.sqrt(a.var(axis=1, keepdims=True) + 1e-5),
    "l2norm": lambda a: a / np.linalg.norm(a, axis=1, keepdims=True),
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "minmax": lambda a: (
        (a - a.min(axis=1, keepdims=True)) / (a.max(axis=1, keepdims=True) - a.min(axis=1, keepdims=True) + 1e-6)
    ),
}


def np_distance(name: str, s: Array, t: Array, probabilities: bool) -> float:
    """Our documented rule: distribution distances compare softmax(input), or the input when it is one already."""
    if name in ("kl", "reverse_kl", "js"):
        p_s, p_t = (s, t) if probabilities else (np_softmax(s), np_softmax(t))
        if name == "kl":
            return np_kl(p_t, p_s)
        if name == "reverse_kl":
            return np_kl(p_s, p_t)
        m = 0.5 * (p_s + p_t)
        return 0.5 * (np_kl(p_s, m) + np_kl(p_t, m))
    d = s - t
    if name == "l2":
        return float(np.mean(d**2))
    if name == "l1":
        return float(np.mean(np.abs(d)))
    if name == "smooth_l1":
        return float(np.mean(np.where(np.abs(d) < 1.0, 0.5 * d**2, np.abs(d) - 0.5)))
    if name == "cosine":
        cos = np.sum(s * t, axis=1) / (np.linalg.norm(s, axis=1) * np.linalg.norm(t, axis=1) + 1e-8)
        return float(1.0 - cos.mean())
    assert name == "pearson"
    return float(1.0 - np_pearson_rows(s, t).mean())


# Pairs on which tau is a temperature: a transform non-linear in scale, or identity taps under a distance that is
# not scale-homogeneous. Elsewhere tau^2 D(T(a / tau), T(b / tau)) would not depend on tau but by a factor.
TEMPERED_TRANSFORMS = ("softmax", "log_softmax", "tanh", "sigmoid")
IDENTITY_TEMPERED_DISTANCES = ("kl", "reverse_kl", "js", "smooth_l1")


def ref_uniads(x: dict[str, Array], hp: dict[str, Any], epoch: float) -> float:
    """alpha * CE + sum over sources of tau^2 * W * D(T(A_S / tau), T(A_T / tau)), tau = 1 on untempered pairs."""
    tempered = hp["transform"] in TEMPERED_TRANSFORMS or (
        hp["transform"] == "identity" and hp["distance"] in IDENTITY_TEMPERED_DISTANCES)
    tau, transform = hp["tau"] if tempered else 1.0, NP_TRANSFORMS[hp["transform"]]
    sources = {
        "logits": (x["s_logits"], x["t_logits"]),
        "features": (x["s_features"] @ x["projector_weight"].T + x["projector_bias"], x["t_features"]),
    }
    total = hp["alpha"] * np_ce(x["s_logits"], x["target"])
    for source in hp["knowledge"].split("+"):
        a_s, a_t = sources[source]
        d = np_distance(hp["distance"], transform(a_s / tau), transform(a_t / tau), hp["transform"] == "softmax")
        total += tau**2 * hp["weight"] * d
    return total


REFERENCES = {
    "ce": ref_ce,
    "kd": ref_kd,
    "dkd": ref_dkd,
    "dist": ref_dist,
    "fitnet": ref_fitnet,
    "at": ref_at,
    "uniads": ref_uniads,
}


def _uniads(knowledge: str, transform: str, distance: str, weight: float, tau: float, alpha: float) -> dict:
    genes = dict(knowledge=knowledge, transform=transform, distance=distance, weight=weight, tau=tau, alpha=alpha)
    return {"name": f"uniads-{knowledge}-{transform}-{distance}", "distiller": "uniads", "hparams": genes}


CASES: list[dict[str, Any]] = [
    {"name": "ce", "distiller": "ce", "hparams": {}},
    {"name": "kd", "distiller": "kd", "hparams": {}},
    {"name": "dkd-warmup", "distiller": "dkd", "hparams": {}, "epoch": 5.0},
    {"name": "dkd-beta2", "distiller": "dkd", "hparams": {"beta": 2.0}, "epoch": 30.0},
    {"name": "dist", "distiller": "dist", "hparams": {}},
    {"name": "fitnet", "distiller": "fitnet", "hparams": {}},
    {"name": "at", "distiller": "at", "hparams": {}},
    _uniads("logits", "identity", "kl", 1.0, 4.0, 1.0),
    _uniads("logits", "softmax", "kl", 16.0, 8.0, 0.5),
    _uniads("logits", "log_softmax", "reverse_kl", 5.0, 2.0, 1.0),
    _uniads("logits", "tanh", "js", 0.5, 16.0, 0.1),
    _uniads("logits", "sigmoid", "l2", 1.0, 1.0, 1.0),
    _uniads("features", "batchnorm", "cosine", 16.0, 1.0, 1.0),
    _uniads("features", "l2norm", "l2", 32.0, 4.0, 0.5),
    _uniads("features", "minmax", "l1", 8.0, 2.0, 0.1),
    _uniads("logits+features", "layernorm", "l1", 5.0, 8.0, 1.0),
    _uniads("logits+features", "layernorm", "smooth_l1", 2.0, 1.0, 1.0),
    _uniads("features", "identity", "smooth_l1", 2.0, 4.0, 1.0),
    _uniads("logits", "identity", "l1", 1.0, 8.0, 1.0),
]


def make_inputs(seed: int = SEED) -> dict[str, Array]:
    """Seeded inputs: 8 samples, 10 classes, feature widths 6 -> 8, two stages (teacher stage 0 at 2x resolution)."""
    rng = np.random.default_rng(seed)
    n, classes = 8, 10
    arrays = {
        "s_logits": 3.0 * rng.standard_normal((n, classes)),
        "t_logits": 4.0 * rng.standard_normal((n, classes)),
        "target": rng.integers(0, classes, n),
        "s_features": np.abs(rng.standard_normal((n, 6))),
        "t_features": np.abs(rng.standard_normal((n, 8))),
        "projector_weight": 0.4 * rng.standard_normal((8, 6)),
        "projector_bias": 0.1 * rng.standard_normal(8),
        "s_stage0": np.abs(rng.standard_normal((n, 4, 4, 4))),
        "t_stage0": np.abs(rng.standard_normal((n, 5, 8, 8))),
        "s_stage1": np.abs(rng.standard_normal((n, 6, 2, 2))),
        "t_stage1": np.abs(rng.standard_normal((n, 8, 2, 2))),
        "adapter_weight": 0.4 * rng.standard_normal((8, 6)),
        "adapter_bias": 0.1 * rng.standard_normal(8),
    }
    # Six decimals keep the fixture small; the reference is computed from the rounded values.
    return {k: np.round(v, 6) if v.dtype.kind == "f" else v for k, v in arrays.items()}


def reference_value(case: dict[str, Any], inputs: dict[str, Array]) -> float:
    return float(REFERENCES[case["distiller"]](inputs, case["hparams"], case.get("epoch", 240.0)))


def write_fixture() -> None:
    inputs = make_inputs()
    cases = [
        {
            **case,
            "epoch": case.get("epoch", 240.0),
            "expected": reference_value(case, inputs),
            "rtol": RTOL,
            "atol": ATOL,
        }
        for case in CASES
    ]
    # One line per case and per input array: readable diffs without one number per line.
    case_lines = ",\n".join(f"  {json.dumps(case)}" for case in cases)
    input_lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v.tolist())}" for k, v in inputs.items())
    FIXTURE.write_text(f'{{\n "seed": {SEED},\n "cases": [\n{case_lines}\n ],\n "inputs": {{\n{input_lines}\n }}\n}}\n')


def load_fixture() -> tuple[dict[str, Array], list[dict[str, Any]]]:
    fixture = json.loads(FIXTURE.read_text())
    return {k: np.asarray(v) for k, v in fixture["inputs"].items()}, fixture["cases"]


# Empty while the fixture is being (re)generated; the coverage test then fails loudly.
INPUTS, FIXTURE_CASES = load_fixture() if FIXTURE.exists() else ({}, [])


def test_every_named_distiller_has_a_golden_case() -> None:
    in_tree = {name for name in list_distillers() if get_distiller(name).__module__.startswith("uniads_bench.")}
    assert in_tree <= {case["distiller"] for case in FIXTURE_CASES}


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[case["name"] for case in FIXTURE_CASES])
def test_reference_reproduces_fixture(case: dict[str, Any]) -> None:
    assert reference_value(case, INPUTS) == pytest.approx(case["expected"], rel=1e-12, abs=1e-12)


def _taps(prefix: str, inputs: dict[str, Array]) -> Taps:
    t = {k: torch.tensor(v, dtype=torch.float32) for k, v in inputs.items() if k.startswith(prefix)}
    return Taps(
        logits=t[f"{prefix}logits"],
        features=t[f"{prefix}features"],
        stages=(t[f"{prefix}stage0"], t[f"{prefix}stage1"]),
    )


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[case["name"] for case in FIXTURE_CASES])
def test_distiller_matches_reference(case: dict[str, Any]) -> None:
    student, teacher = _taps("s_", INPUTS), _taps("t_", INPUTS)
    dims = [TapDims(10, taps.features.shape[1], tuple(s.shape[1] for s in taps.stages)) for taps in (student, teacher)]
    distiller = build_distiller(case["distiller"], dims[0], dims[1], case["hparams"])
    with torch.no_grad():
        # Learned projectors/adapters get the fixture's weights so the reference can apply the same map.
        for module, key in (
            (getattr(distiller, "projector", None), "projector"),
            (getattr(distiller, "adapter", [None])[0], "adapter"),
        ):
            if isinstance(module, torch.nn.Linear | torch.nn.Conv2d):
                weight = torch.tensor(INPUTS[f"{key}_weight"], dtype=torch.float32)
                module.weight.copy_(weight.view_as(module.weight))
                module.bias.copy_(torch.tensor(INPUTS[f"{key}_bias"], dtype=torch.float32))
        terms = distiller(student, teacher, torch.tensor(INPUTS["target"]), Progress(case["epoch"], 240))
    total = sum(float(term) for term in terms.values())
    assert total == pytest.approx(case["expected"], rel=case["rtol"], abs=case["atol"])


if __name__ == "__main__":
    write_fixture()
