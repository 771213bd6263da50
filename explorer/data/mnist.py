"""MNIST and Fashion-MNIST: the same four IDX files each, found on disk or downloaded (download.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import ImageDataset, to_images
from .download import Found, checksum_ok, locate, obtain
from .idx import parse_idx, read_content

BUNDLED_DIR = Path(__file__).parent / "bundled"  # the MNIST test split ships with the package
FILES = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
         "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def load_mnist(data_dir: str | Path | None = None, *, test_only: bool = False,
               download: bool = True) -> ImageDataset:
    """MNIST (LeCun, Cortes & Burges): 60,000 + 10,000 digits, 28x28. test_only never needs the network."""
    return load_idx_dataset("mnist", MNIST_CLASSES, data_dir, test_only, download, bundled=BUNDLED_DIR)


def load_fashion_mnist(data_dir: str | Path | None = None, *, test_only: bool = False,
                       download: bool = True) -> ImageDataset:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 + 10,000 clothing images, 28x28."""
    return load_idx_dataset("fashion-mnist", FASHION_CLASSES, data_dir, test_only, download)


def load_idx_dataset(name: str, classes: list[str], data_dir: str | Path | None, test_only: bool,
                     download: bool, bundled: Path | None = None) -> ImageDataset:
    keys = ["test_x", "test_y"] if test_only else list(FILES)
    filenames = [FILES[k] for k in keys]
    found = None
    if test_only and bundled is not None:  # a local copy if there is one, else what ships with us
        found = locate(name, filenames, data_dir) or Found({f: bundled / f for f in filenames}, bundled, False)
    if found is None:
        found = obtain(name, filenames, data_dir, download)
    notes = _where_note(name, found, data_dir)
    arrays, mismatched = {}, []
    for key in keys:
        path = found.paths[FILES[key]]
        content = read_content(path)
        if not found.verified and checksum_ok(name, FILES[key], path, content) is False:
            mismatched.append(path.name)
        arrays[key] = parse_idx(content, path)
    if mismatched:
        notes.append(f"{', '.join(mismatched)} in {found.where} differ from the official {name} files "
                     "(checksum mismatch); using them anyway")
    test_x, test_y = _pair(arrays["test_x"], arrays["test_y"], len(classes), found.where)
    if test_only:
        train_x, train_y = test_x[:0], test_y[:0]
    else:
        train_x, train_y = _pair(arrays["train_x"], arrays["train_y"], len(classes), found.where)
    return ImageDataset(name, train_x, train_y, test_x, test_y, list(classes), notes)


def _pair(images: np.ndarray, labels: np.ndarray, n_classes: int, where: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Check an images/labels pair of IDX arrays and turn it into tensors."""
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{where}: expected images (N, H, W) and N labels, got {images.shape} and {labels.shape}")
    if labels.size and labels.max() >= n_classes:
        raise ValueError(f"{where}: label {labels.max()} is out of range for {n_classes} classes")
    return to_images(images), torch.from_numpy(labels.astype(np.int64))


def _where_note(name: str, found: Found, data_dir: str | Path | None) -> list[str]:
    """Say so when an explicit directory was passed but the files came from elsewhere."""
    if data_dir is None:
        return []
    given = Path(data_dir).expanduser()
    if found.where in (given, given / name):
        return []
    return [f"{name} is not in {given}; loaded it from {found.where}"]
