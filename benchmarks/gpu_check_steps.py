"""The steps of `benchmarks/gpu_check.sh` that are more than one command: each writes one JSON and exits 0 when
its checks pass, 1 when one fails (the JSON says which), so the shell script records it and goes on.

Usage: ``python benchmarks/gpu_check_steps.py {env,digits,cifar10,precision,compile,cifar100} --out FILE ...``
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "uniads_bench"]
PRECISION_TOLERANCE = 2.0  # top-1 points between fp32 and bf16 on the 360 digits test images (1 image: 0.28)
CIFAR100_EPOCHS, CIFAR100_IMAGES = 240, 50_000


def write(path: Path, data: dict[str, Any]) -> int:
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    return 0 if data.get("ok", True) else 1


def env(args: argparse.Namespace) -> int:
    import torch

    import uniads_bench
    from uniads_bench.search import evaluators, nevergrad, uniads  # noqa: F401  (the search layer imports)

    versions = {}
    for name in ("nevergrad", "pymoo", "click", "tabulate", "datasets", "numpy", "torchvision"):
        try:
            versions[name] = __import__(name).__version__
        except Exception as exc:  # a missing wheel is what this step is for
            versions[name] = f"missing: {exc}"
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True, check=False) if torch.cuda.is_available() else None
    doctor = subprocess.run([*CLI, "doctor"], capture_output=True, text=True, check=False)
    return write(args.out, {
        "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "bf16_supported": torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        "nvidia_smi": smi.stdout.strip() if smi else None, "uniads_bench": uniads_bench.__version__,
        "packages": versions, "doctor_rc": doctor.returncode, "doctor": doctor.stdout[-4000:],
        "ok": doctor.returncode == 0 and not any(v.startswith("missing") for v in versions.values())})


def run_suite(suite: str, work: Path, device: str, extra: list[str], methods: str, precision: str, workers: int,
              data_dir: Path | None = None, cache: Path | None = None, tracks: str | None = None) -> dict:
    """`uniads-bench run SUITE` into `work` (teachers cached in `cache`, default inside `work`; every track unless
    `tracks` names some); its rows, journal counts and timing."""
    from uniads_bench.journal import EvaluationRecord, SearchEndRecord, read_journal

    data = ["--data-dir", str(data_dir)] if data_dir else []
    started = time.perf_counter()
    only = ["--tracks", tracks] if tracks else []
    done = subprocess.run([*CLI, "run", suite, *only, "--methods", methods, "--device", device,
                           "--workers", str(workers), "--precision", precision, "--deterministic", "--out",
                           str(work / "runs"), "--leaderboard-dir", str(work / "boards"), "--cache-dir",
                           str(cache or work / "cache"), *data, *extra],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    board = work / "boards" / f"{suite}.json"
    rows = json.loads(board.read_text())["rows"] if board.exists() else []
    journals = list((work / "runs").glob("*/journal.jsonl"))
    records = list(read_journal(journals[0])) if journals else []
    return {"rc": done.returncode, "seconds": round(seconds, 1), "stderr_tail": done.stderr[-2000:],
            "rows": [{k: r.get(k) for k in ("method", "top1_mean", "top1_per_seed", "status", "precision", "params",
                                            "hardware", "search_evaluations", "wall_seconds")} for r in rows],
            "evaluations": sum(isinstance(r, EvaluationRecord) for r in records),
            "search_ends": sum(isinstance(r, SearchEndRecord) for r in records)}


def end_to_end_checks(result: dict, device: str) -> dict[str, bool]:
    """What a CPU integration test checks of a kd + uniads run: rows, their device, the search's journal."""
    methods = {r["method"]: r for r in result["rows"]}
    checks = {
        "exit 0": result["rc"] == 0,
        "a row per method": set(methods) == {"kd", "uniads"},
        "rows are results above chance": all(r["status"] == "ok" and (r["top1_mean"] or 0) > 10.0
                                             for r in methods.values()),
        "rows name the device": all(device == "cpu" or "cpu" not in str(r["hardware"]).lower()
                                    for r in methods.values()),
        "the search evaluated and ended": result["evaluations"] > 2 and result["search_ends"] == 1,
    }
    return checks


def digits(args: argparse.Namespace) -> int:
    result = run_suite("digits", args.work, args.device, args.extra, "kd,uniads", "auto", 2, tracks="cnn")
    checks = end_to_end_checks(result, args.device)
    return write(args.out, {**result, "device": args.device, "checks": checks, "ok": all(checks.values())})


def cifar10(args: argparse.Namespace) -> int:
    """The cifar10_cpu track end to end on `--data` (a CIFAR-10 parquet directory: the carried subset of real
    images, or generated ones that a model can learn: benchmarks/gpu_data.py), prepared into the work directory first
    as a user would."""
    data_dir = args.work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "cifar10").symlink_to(args.data.resolve(), target_is_directory=True)
    prepared = subprocess.run([*CLI, "data", "prepare", "cifar10", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, check=False)
    if prepared.returncode != 0:
        return write(args.out, {"ok": False, "reason": "data prepare failed", "stderr": prepared.stderr[-2000:]})
    result = run_suite("cifar10_cpu", args.work, args.device, args.extra, "kd,uniads", "auto", 2, data_dir)
    checks = end_to_end_checks(result, args.device)
    return write(args.out, {**result, "device": args.device, "data": str(args.data), "generated": args.generated,
                            "checks": checks, "ok": all(checks.values())})


def precision(args: argparse.Namespace) -> int:
    arms = {p: run_suite("digits", args.work / p, args.device, args.extra, "kd", p, 1, tracks="cnn")
            for p in ("fp32", "bf16")}
    top1 = {p: (a["rows"][0]["top1_mean"] if a["rows"] else None) for p, a in arms.items()}
    diff = top1["bf16"] - top1["fp32"] if None not in top1.values() else None
    checks = {"both ran": all(a["rc"] == 0 for a in arms.values()),
              f"|bf16 - fp32| <= {PRECISION_TOLERANCE} points": diff is not None and abs(diff) <= PRECISION_TOLERANCE}
    return write(args.out, {"top1": top1, "bf16_minus_fp32": diff, "tolerance": PRECISION_TOLERANCE,
                            "seconds": {p: a["seconds"] for p, a in arms.items()}, "checks": checks,
                            "ok": all(checks.values())})


def compile_(args: argparse.Namespace) -> int:
    """One final-phase KD training of the cifar10_cpu track with and without `--compile` (on the data the cifar10
    step prepared; the teacher trained once, by the first arm): wall seconds of each and their top-1, so the flag's
    pay-off is measured, not assumed."""
    data_dir = args.cifar10_work / "data"
    if not (data_dir / "prepared").exists():
        return write(args.out, {"ok": False, "reason": f"{data_dir} has no prepared data: the cifar10 step failed"})
    arms = {}
    for arm, flags in (("eager", []), ("compiled", ["--compile"])):
        arms[arm] = run_suite("cifar10_cpu", args.work / arm, args.device, [*args.extra, *flags], "kd", "fp32", 1,
                              data_dir, cache=args.work / "cache")
    checks = {"both ran": all(a["rc"] == 0 for a in arms.values())}
    return write(args.out, {
        "seconds": {a: r["seconds"] for a, r in arms.items()},
        "row_wall_seconds": {a: (r["rows"][0]["wall_seconds"] if r["rows"] else None) for a, r in arms.items()},
        "top1": {a: (r["rows"][0]["top1_mean"] if r["rows"] else None) for a, r in arms.items()},
        "stderr_tail": {a: r["stderr_tail"][-800:] for a, r in arms.items() if r["rc"] != 0},
        "note": "seconds: the whole command (the eager arm also trains the teacher); row_wall_seconds: the row's",
        "checks": checks, "ok": all(checks.values())})


def cifar100(args: argparse.Namespace) -> int:
    """The 240-epoch CIFAR-100 KD run's time from the engine step's measured images/s (resnet32x4 -> resnet8x4;
    CIFAR-100's 100-way head changes the step time by well under 1%)."""
    if not args.engine.exists():
        return write(args.out, {"ok": False, "reason": f"{args.engine} missing: the engine step did not finish"})
    engine = json.loads(args.engine.read_text())
    out: dict[str, Any] = {"from": str(args.engine.name), "epochs": CIFAR100_EPOCHS, "images": CIFAR100_IMAGES,
                           "device": engine.get("device"), "hours": {}}
    for arm in ("plain", "ours_cold", "ours_warm"):
        rate = engine.get(arm, {}).get("images_per_s")
        if rate:
            out["hours"][arm] = round(CIFAR100_EPOCHS * CIFAR100_IMAGES / rate / 3600, 3)
    out["note"] = ("ours_cold computes the teacher every epoch, as a fixed-method 240-epoch run does (augmented "
                   "views never repeat); ours_warm serves teacher outputs from the cache, as search rungs do")
    out["ok"] = bool(out["hours"])
    return write(args.out, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("env", "digits", "cifar10", "precision", "compile", "cifar100"):
        p = sub.add_parser(name)
        p.add_argument("--out", type=Path, required=True)
        if name in ("digits", "cifar10", "precision", "compile"):
            p.add_argument("--device", default="cuda")
            p.add_argument("--work", type=Path, required=True)
            p.add_argument("extra", nargs="*", help="options for `uniads-bench run` (after --)")
        if name == "cifar10":
            p.add_argument("--data", type=Path, required=True, help="CIFAR-10 in the parquet layout")
            p.add_argument("--generated", action="store_true", help="--data holds generated images")
        if name == "compile":
            p.add_argument("--cifar10-work", type=Path, required=True, help="the cifar10 step's --work")
        if name == "cifar100":
            p.add_argument("--engine", type=Path, required=True)
    args = parser.parse_args()
    steps = {"env": env, "digits": digits, "cifar10": cifar10, "precision": precision, "compile": compile_,
             "cifar100": cifar100}
    return steps[args.step](args)


if __name__ == "__main__":
    raise SystemExit(main())
