"""CIFAR-10 for the GPU call: a subset of a real copy small enough to travel, or generated images where none can.

A device call carries at most 64 MiB and the shared CIFAR-10 copy is 55 MB, so the call takes the first rows of
each split (the copy's rows are shuffled with a fixed seed, so the first N are a class-balanced-ish subset),
written in the same Hugging Face parquet layout (column `img` = {bytes, path}, column `label`), which
`uniads-bench data prepare` reads. Where no copy exists, `--generate` writes images in that layout that a model
can learn in a few steps (one colour per class under pixel noise: crops and flips keep it), so the pipeline runs
end to end above chance.

Usage:
    python benchmarks/gpu_data.py --source ../shared/data/cifar10-jpeg --out .gpu-data/cifar10   # here, once
    python benchmarks/gpu_data.py --generate --out DIR                                            # no copy
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SPLITS = ("train", "test")
CIFAR10_CLASSES = 10


def subset(source: Path, out: Path, rows: dict[str, int]) -> dict[str, int]:
    """The first `rows[split]` rows of each split's parquet under `source`, written under `out`; bytes per file."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split in SPLITS:
        table = pq.read_table(source / f"{split}.parquet")
        head = table.slice(0, rows[split])
        pq.write_table(head, out / f"{split}.parquet")  # the schema metadata (datasets features) travels along
        sizes[split] = (out / f"{split}.parquet").stat().st_size
    return sizes


def generate(out: Path, rows: dict[str, int], seed: int = 0) -> dict[str, int]:
    """32x32 PNG images in the layout `subset` writes: each a random class's colour plus noise; bytes per file."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (CIFAR10_CLASSES, 1, 1, 3))
    sizes = {}
    for split in SPLITS:
        images, labels = [], []
        for i in range(rows[split]):
            label = int(rng.integers(0, CIFAR10_CLASSES))
            pixels = (colours[label] + rng.normal(0, 32, (32, 32, 3))).clip(0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            images.append({"bytes": buffer.getvalue(), "path": f"{split}_{i}.png"})
            labels.append(label)
        table = pa.table({"img": images, "label": pa.array(labels, pa.int64())})
        pq.write_table(table, out / f"{split}.parquet")
        sizes[split] = (out / f"{split}.parquet").stat().st_size
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a CIFAR-10 copy in the parquet layout (train/test.parquet)")
    parser.add_argument("--generate", action="store_true", help="write random images instead of a subset")
    parser.add_argument("--train", type=int, default=20000,
                        help="training rows kept (cifar10_cpu trains on the first 5,000)")
    parser.add_argument("--test", type=int, default=2000, help="test rows kept (cifar10_cpu scores 1,000)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.generate == (args.source is not None):
        parser.error("give exactly one of --source DIR and --generate")
    missing = [f"{args.source}/{split}.parquet" for split in SPLITS
               if args.source is not None and not (args.source / f"{split}.parquet").is_file()]
    if missing:
        parser.error(f"{', '.join(missing)} not found; --source takes a CIFAR-10 copy in the parquet layout "
                     "(../shared/data/cifar10-jpeg), or use --generate")
    rows = {"train": args.train, "test": args.test}
    sizes = generate(args.out, rows) if args.generate else subset(args.source, args.out, rows)
    kind = "generated" if args.generate else f"first rows of {args.source}"
    print(json.dumps({"out": str(args.out), "rows": rows, "kind": kind, "bytes": sizes}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
