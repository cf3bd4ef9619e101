"""In-memory form of a dataset after preparation: uint8 image arrays, labels and class names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageArrays:
    """Images as uint8 (N, C, H, W) and labels as int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.images)} images but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> ImageArrays:
        """The rows at `index`, in that order."""
        return ImageArrays(self.images[index], self.labels[index])


@dataclass(frozen=True)
class DatasetArrays:
    """A dataset's train and test splits with its class names and normalisation statistics."""

    name: str
    train: ImageArrays
    test: ImageArrays
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)
