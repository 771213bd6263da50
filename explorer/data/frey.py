"""Frey Face: 1,965 grayscale 28x20 video frames of Brendan Frey's face (Roweis' frey_rawface.mat).

The file holds `ff`, uint8 of shape (560, 1965): one image per column, stored row by row (20 wide,
28 tall), as in Roweis' MATLAB snippet `reshape(ff(:, i), 20, 28)'`. So `ff.T.reshape(-1, 28, 20)`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import ImageDataset, split_indices, to_images
from .download import obtain

FILENAME = "frey_rawface.mat"
HEIGHT, WIDTH = 28, 20
N_IMAGES = 1965


def load_frey(data_dir: str | Path | None = None, *, test_only: bool = False, download: bool = True,
              test_fraction: float = 0.1, seed: int = 0) -> ImageDataset:
    """(N, 1, 28, 20) faces in [0, 1], no labels; a seeded random split (the data has no official one).

    Consecutive frames are nearly identical, so test images have close neighbours in the training set.
    """
    found = obtain("frey", [FILENAME], data_dir, download, validate=_check_download)
    ff = read_ff(found.paths[FILENAME])
    x = to_images(np.ascontiguousarray(ff.T).reshape(-1, HEIGHT, WIDTH))  # (N, 1, 28, 20)
    train, test = split_indices(len(x), test_fraction, seed)
    train_x = x[:0] if test_only else x[train]
    return ImageDataset("frey", train_x, None, x[test], None)


def read_ff(path: Path) -> np.ndarray:
    """The `ff` array of a frey_rawface.mat: (560, N) uint8."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for a file that is not a .mat
        raise ValueError(f"{path}: not a readable MATLAB file ({e})") from e
    ff = mat.get("ff")
    if not isinstance(ff, np.ndarray) or ff.ndim != 2 or ff.shape[0] != HEIGHT * WIDTH or ff.shape[1] < 1:
        got = getattr(ff, "shape", None) if ff is not None else "no variable 'ff'"
        raise ValueError(f"{path}: expected a variable 'ff' of shape ({HEIGHT * WIDTH}, N), got {got}")
    if ff.dtype != np.uint8:
        if ff.min() < 0 or ff.max() > 255:
            raise ValueError(f"{path}: 'ff' values must be grey levels 0..255")
        ff = ff.astype(np.uint8)
    return ff


def _check_download(path: Path) -> None:
    """No checksum is published for frey_rawface.mat, so a download is accepted by its shape."""
    shape = read_ff(path).shape
    if shape != (HEIGHT * WIDTH, N_IMAGES):
        raise ValueError(f"expected 'ff' of shape ({HEIGHT * WIDTH}, {N_IMAGES}), got {shape}")
