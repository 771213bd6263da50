"""scikit-learn's bundled 8x8 digits: 1,797 images, no download needed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import ImageDataset, split_indices

CLASSES = [str(i) for i in range(10)]


def load_digits(data_dir: str | Path | None = None, *, test_only: bool = False, download: bool = True,
                test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """(N, 1, 8, 8) in [0, 1] (grey levels 0..16 scaled). data_dir and download are ignored: it ships
    with scikit-learn."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    train, test = split_indices(len(x), test_fraction, seed)
    if test_only:
        train = train[:0]
    return ImageDataset("digits", x[train], y[train], x[test], y[test], list(CLASSES))
