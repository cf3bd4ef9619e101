"""What a suite needs before it can run, and the one command that supplies each missing piece (`doctor`).

Per suite: its dataset (built in, prepared and intact, raw but not prepared, or absent) and per track its
teacher (cached with its recorded accuracy and sha256, or missing). Only manifests, file sizes and cache
records are read, so the check takes about a second; `data verify` and `teacher verify` re-hash and re-measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from uniads_bench.config import Suite
from uniads_bench.data.catalog import dataset_spec
from uniads_bench.data.prepared import verify_prepared
from uniads_bench.data.sources import describe_layouts, find_source
from uniads_bench.errors import UserError
from uniads_bench.teachers import cached_teacher


@dataclass(frozen=True)
class Readiness:
    """One piece a suite needs: `ready` or not, what was found, and the command that fixes it when not."""

    suite: str
    piece: str
    ready: bool
    status: str
    fix: str = ""


def suite_readiness(suite: Suite, data_dir: Path, cache_dir: Path) -> list[Readiness]:
    """The dataset of `suite` under `data_dir`, then each track's teacher under `cache_dir`."""
    data, train_images = _dataset(suite, data_dir)
    pieces = [data]
    for track in suite.tracks:
        piece = f"teacher {track.name} ({track.teacher})"
        data_option = "" if data.piece.endswith("(built in)") else f" --data-dir {data_dir}"
        fix = (f"uniads-bench teacher train {suite.name} {track.name}{data_option}" if track.teacher_train
               else f"uniads-bench teacher import {suite.name} {track.name} PATH  (its published weights)")
        if track.teacher_train and train_images is None:
            pieces.append(Readiness(suite.name, piece, False, f"waits for the {data.piece}", f"then {fix}"))
            continue
        # An imported checkpoint is found first, as a run finds it; a trained one is keyed by its image count.
        found = cached_teacher(cache_dir, suite, track, train_images or 0)
        if found is None:
            pieces.append(Readiness(suite.name, piece, False, f"not cached under {cache_dir}", fix))
        else:
            record = found[1]
            pieces.append(Readiness(suite.name, piece, True, f"cached: test top-1 {record.test_top1:.2f}%, sha256 "
                                    f"{record.sha256[:12]}, {record.origin}"))
    return pieces


def _dataset(suite: Suite, data_dir: Path) -> tuple[Readiness, int | None]:
    """The dataset's readiness and the image count its teachers are trained on (None when not prepared)."""
    spec = dataset_spec(suite.dataset)
    piece = f"data {spec.name}"
    if spec.layouts == ("sklearn",):
        return Readiness(suite.name, f"{piece} (built in)", True, "scikit-learn's bundled copy"), spec.train_images
    prepare = f"uniads-bench data prepare {spec.name} --data-dir {data_dir}"
    try:
        manifest = verify_prepared(spec.name, data_dir, full=False)
    except UserError as exc:
        source = find_source(spec.name, data_dir)
        if source is not None:
            return Readiness(suite.name, piece, False, f"raw data at {source.path}, not prepared"
                             f"{'' if 'not prepared' in str(exc) else f' ({exc})'}", prepare), None
        layouts = describe_layouts(spec, data_dir)
        return Readiness(suite.name, piece, False, f"not found under {data_dir}",
                         f"put it in one of {len(layouts)} layouts ({layouts[0]}; `{prepare}` lists them all), "
                         f"then {prepare}"), None
    partial = f", partial (first {manifest.limit})" if manifest.limit else ""
    return Readiness(suite.name, piece, True, f"prepared: {manifest.train_count:,} train / {manifest.test_count:,} "
                     f"test images from {manifest.layout}{partial}"), manifest.train_count

