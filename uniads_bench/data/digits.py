"""scikit-learn's bundled handwritten digits: real data that is on every machine, used by the offline suite.

1,797 grey 8x8 images with 17 intensity levels (0..16), rescaled to uint8. The test split is a fixed,
stratified 20% of the images (seeded), so it never moves between runs or machines.
"""

from __future__ import annotations

import numpy as np

from uniads_bench.data.arrays import DatasetArrays, ImageArrays
from uniads_bench.data.splits import holdout_split

TEST_COUNT = 360
SPLIT_SEED = 20240101


def load_digits_arrays() -> DatasetArrays:
    """The digits dataset as uint8 (N, 1, 8, 8) arrays with a fixed train/test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = holdout_split(labels, TEST_COUNT, SPLIT_SEED)
    everything = ImageArrays(images, labels)
    pixels = images.astype(np.float64) / 255.0
    return DatasetArrays(
        name="digits",
        train=everything.subset(train_idx),
        test=everything.subset(test_idx),
        classes=tuple(str(d) for d in range(10)),
        mean=(float(pixels.mean()),),
        std=(float(pixels.std()),),
    )
