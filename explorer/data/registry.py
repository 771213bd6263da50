"""Dataset names -> loaders."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .base import ImageDataset
from .idx import read_idx

BUNDLED_DIR = Path(__file__).parent / "bundled"
MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz",
}


def _images(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)


def _find_dir(files: list[str], data_dir: str | Path | None) -> Path | None:
    candidates = [data_dir, os.environ.get("EXPLORER_DATA_DIR")]
    for c in candidates:
        if c and all((Path(c) / f).is_file() for f in files):
            return Path(c)
    return None


def load_mnist(data_dir: str | Path | None = None, test_only: bool = False, **_: object) -> ImageDataset:
    if test_only:
        d = _find_dir([MNIST_FILES["test_x"], MNIST_FILES["test_y"]], data_dir) or BUNDLED_DIR
        test_x, test_y = _images(read_idx(d / MNIST_FILES["test_x"])), torch.from_numpy(
            read_idx(d / MNIST_FILES["test_y"]).astype(np.int64))
        return ImageDataset("mnist", test_x[:0], test_y[:0], test_x, test_y, [str(i) for i in range(10)])
    d = _find_dir(list(MNIST_FILES.values()), data_dir)
    if d is None:
        raise FileNotFoundError("MNIST not found: put " + ", ".join(MNIST_FILES.values())
                                + " in a directory and pass it (--data-dir) or set EXPLORER_DATA_DIR")
    arr = {k: read_idx(d / f) for k, f in MNIST_FILES.items()}
    return ImageDataset("mnist", _images(arr["train_x"]), torch.from_numpy(arr["train_y"].astype(np.int64)),
                        _images(arr["test_x"]), torch.from_numpy(arr["test_y"].astype(np.int64)),
                        [str(i) for i in range(10)])


def load_digits(test_fraction: float = 0.2, seed: int = 0, **_: object) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, grey levels 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(x) * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    return ImageDataset("digits", x[tr], y[tr], x[te], y[te], [str(i) for i in range(10)])


DATASETS: dict[str, Callable[..., ImageDataset]] = {"mnist": load_mnist, "digits": load_digits}


def load_dataset(name: str, data_dir: str | Path | None = None, **kwargs: object) -> ImageDataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name](data_dir=data_dir, **kwargs)
