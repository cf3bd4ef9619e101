"""What bf16 autocast changes against fp32, on a suite's own teacher, data and reference student.

The KD references (mdistiller, RepDistiller) train and score in fp32. This measures, on the CPU bf16 path (or a
GPU's), what the engine's bf16 autocast would move, to decide which phases may use it (`engine.train.use_bf16`):

1. teacher outputs: the track's teacher on one augmented epoch of the final-phase training split, fp32 against
   bf16 (what the teacher cache would hand to every candidate): RMS and max absolute logit difference relative
   to the standard deviation of the fp32 logits, argmax agreement, and KL(p_fp32 || p_bf16) at T = 4;
2. teacher scoring: test top-1 of the teacher scored in fp32 and in bf16;
3. a final-phase training: the track's reference student distilled with `--method` (KD by default, at the
   suite's hyperparameters) for the full recipe, once in fp32 and once in bf16, per seed: test top-1 of each,
   the paired difference (bf16 - fp32) and the wall seconds of each.

Usage: python benchmarks/bf16_effect.py [--suite digits] [--track TRACK] [--data-dir DIR] [--data-limit N]
           [--seeds 0 1 2 3 4] [--method kd] [--device cpu] [--threads 2] [--cache-dir DIR] [--out FILE]
Writes benchmarks/results/bf16_effect_<suite>.json (or --out) and prints one summary line per part.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from engine_speed import environment, load_average

from uniads_bench.candidate import Candidate
from uniads_bench.config import load_suite
from uniads_bench.data.loader import Augment
from uniads_bench.engine.train import TrackContext, evaluate_top1, teacher_epoch_outputs, train_candidate
from uniads_bench.methods import get_method
from uniads_bench.results import Fidelity
from uniads_bench.runner.context import build_context, load_arrays
from uniads_bench.runner.options import RunOptions, set_deterministic

RESULTS = Path(__file__).parent / "results"
KD_TEMPERATURE = 4.0


def teacher_output_figures(ctx: TrackContext, seed: int) -> dict[str, Any]:
    """Part 1 and 2: the teacher's epoch outputs and test top-1, fp32 against bf16."""
    recipe = ctx.recipe
    plan = ctx.final_train.plan(seed, 0, Augment(recipe.augment_pad, recipe.augment_flip))
    fp32, _ = teacher_epoch_outputs(ctx.teacher, ctx.final_train, plan, recipe.augment_pad, bf16=False)
    bf16, _ = teacher_epoch_outputs(ctx.teacher, ctx.final_train, plan, recipe.augment_pad, bf16=True)
    diff = (bf16 - fp32).abs()
    spread = fp32.std().item()
    kl = F.kl_div(F.log_softmax(bf16 / KD_TEMPERATURE, 1), F.log_softmax(fp32 / KD_TEMPERATURE, 1),
                  log_target=True, reduction="batchmean").item()
    return {
        "samples": len(fp32),
        "logit_std_fp32": round(spread, 4),
        "rms_abs_diff_over_std": round(diff.pow(2).mean().sqrt().item() / spread, 5),
        "max_abs_diff_over_std": round(diff.max().item() / spread, 5),
        "argmax_agreement": round((bf16.argmax(1) == fp32.argmax(1)).float().mean().item(), 5),
        f"kl_fp32_to_bf16_at_T{KD_TEMPERATURE:g}": kl,
        "teacher_test_top1_fp32": round(evaluate_top1(ctx.teacher, ctx.test, bf16=False), 3),
        "teacher_test_top1_bf16": round(evaluate_top1(ctx.teacher, ctx.test, bf16=True), 3),
    }


def final_training_figures(ctx: TrackContext, candidate: Candidate, seeds: list[int]) -> dict[str, Any]:
    """Part 3: the reference student's final-phase training in fp32 and in bf16, per seed, paired."""
    per_seed = []
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        for precision in ("fp32", "bf16"):
            result = train_candidate(replace(ctx, precision=precision), candidate, Fidelity(ctx.recipe.epochs),
                                     seed, "final")
            row[precision] = {"test_top1": result.top1, "status": result.status,
                              "wall_seconds": round(result.wall_seconds, 1)}
        row["diff_bf16_minus_fp32"] = round(row["bf16"]["test_top1"] - row["fp32"]["test_top1"], 3)
        print(f"  seed {seed}: fp32 {row['fp32']['test_top1']:.2f}, bf16 {row['bf16']['test_top1']:.2f}", flush=True)
        per_seed.append(row)
    diffs = [r["diff_bf16_minus_fp32"] for r in per_seed]

    def mean_std(key: str) -> list[float]:
        values = [r[key]["test_top1"] for r in per_seed]
        return [round(statistics.mean(values), 3), round(statistics.stdev(values), 3) if len(values) > 1 else 0.0]

    return {
        "candidate": {"arch": candidate.arch_dict, "distiller": candidate.distiller,
                      "hparams": candidate.hparams_dict},
        "epochs": ctx.recipe.epochs,
        "per_seed": per_seed,
        "top1_fp32_mean_std": mean_std("fp32"),
        "top1_bf16_mean_std": mean_std("bf16"),
        "paired_diff_mean": round(statistics.mean(diffs), 3),
        "paired_diff_std": round(statistics.stdev(diffs), 3) if len(diffs) > 1 else 0.0,
        "wall_seconds_fp32": round(sum(r["fp32"]["wall_seconds"] for r in per_seed), 1),
        "wall_seconds_bf16": round(sum(r["bf16"]["wall_seconds"] for r in per_seed), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="digits")
    parser.add_argument("--track", default=None, help="default: the suite's first track")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--data-limit", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--method", default="kd", help="a fixed method of the suite (its distiller and hparams)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=RunOptions().cache_dir, help="teachers (as `run`)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_deterministic(True)
    device = torch.device(args.device)
    suite = load_suite(args.suite)
    track = suite.track(args.track) if args.track else suite.tracks[0]
    data = load_arrays(suite, args.data_dir, args.data_limit)
    ctx, teacher = build_context(suite, track, data, device, args.cache_dir.expanduser(), args.data_dir)
    method = get_method(args.method)
    candidate = Candidate.make(ctx.family.reference, method.distiller,
                               {**method.hparams, **track.method_hparams.get(args.method, {})})
    command = shlex.join([Path(sys.executable).name, *sys.argv])

    outputs = teacher_output_figures(ctx, args.seeds[0])
    print(f"bf16_effect {suite.name}/{track.name} teacher: logits moved by {outputs['rms_abs_diff_over_std']:.4f} "
          f"of their std (RMS; max {outputs['max_abs_diff_over_std']:.3f}), argmax agreement "
          f"{outputs['argmax_agreement']:.4f}, test top-1 fp32 {outputs['teacher_test_top1_fp32']} / bf16 "
          f"{outputs['teacher_test_top1_bf16']}", flush=True)
    training = final_training_figures(ctx, candidate, args.seeds)
    print(f"bf16_effect {suite.name}/{track.name} {args.method}: fp32 {training['top1_fp32_mean_std']}, bf16 "
          f"{training['top1_bf16_mean_std']}, paired bf16 - fp32 {training['paired_diff_mean']} ± "
          f"{training['paired_diff_std']} over {len(args.seeds)} seeds; wall fp32 {training['wall_seconds_fp32']} s, "
          f"bf16 {training['wall_seconds_bf16']} s", flush=True)

    result = {
        **environment(device, args.threads, command),
        "suite": suite.name, "track": track.name, "teacher": track.teacher, "teacher_record_top1": teacher.test_top1,
        "data_limit": args.data_limit, "method": args.method, "seeds": args.seeds,
        "teacher_outputs": outputs, "final_training": training, "load_avg_1min_end": load_average(),
    }
    out = args.out or RESULTS / f"bf16_effect_{suite.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_suffix(".json.tmp")
    staging.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(staging, out)
    print(f"bf16_effect -> {out}")


if __name__ == "__main__":
    main()
