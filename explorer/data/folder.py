"""A user's folder of pictures as a dataset: every image below it, resized to one size, grey or RGB.

Subfolders become classes (labels) when every image sits in one; otherwise there are no labels.
The train/test split is a seeded shuffle of the sorted file list, so it is the same on every load and
a test_only load reads just the test files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .base import check_image_size
from .base import ImageDataset, split_indices, to_images
from .decode import prepare
from .interrupt import check as check_stop

DEFAULT_SIZE = (28, 28)  # MNIST's size: the same models apply, and training stays quick on a CPU
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def load_folder(data_dir: str | Path | None = None, *, size: int | tuple[int, ...] | None = None,
                rgb: bool = False, test_only: bool = False, test_fraction: float = 0.1, seed: int = 0,
                download: bool = True) -> ImageDataset:
    """Images below data_dir (recursively) as (N, C, H, W); size (H, W) or one int for a square.

    Unreadable files and files that are not images are skipped and counted in the dataset's notes.
    download is accepted for a uniform call and ignored: a folder is always local.
    """
    if data_dir is None:
        raise ValueError("the folder dataset needs a directory of images: pass data_dir (--data-dir)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    h, w = image_size(size)
    files, n_other = _scan(root)
    if not files:
        raise ValueError(f"no images found in {root} (looked recursively for "
                         f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    classes, labels = _classes(root, files)
    train_idx, test_idx = split_indices(len(files), test_fraction, seed)
    wanted = test_idx if test_only else torch.arange(len(files))
    pixels = np.zeros((len(files), h, w, 3 if rgb else 1), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    bad = []
    for i in wanted.tolist():
        check_stop()  # a Stop on the Train page must not wait for the rest of a 100,000-picture folder
        try:
            with Image.open(files[i]) as img:
                pixels[i] = prepare(img, (h, w), rgb)
            ok[i] = True
        except Exception:  # PIL raises many types for a broken file; one bad file must not stop the load
            bad.append(files[i].relative_to(root))
    if not test_only and not ok.any():
        raise ValueError(f"none of the {len(files)} image files in {root} could be read")
    x, y = to_images(pixels), None if labels is None else torch.from_numpy(labels)
    keep = torch.from_numpy(ok)
    tr, te = train_idx[keep[train_idx]], test_idx[keep[test_idx]]
    pick = lambda t, idx: None if t is None else t[idx]
    return ImageDataset("folder", x[:0] if test_only else x[tr], pick(y, tr[:0] if test_only else tr),
                        x[te], pick(y, te), classes, _notes(root, n_other, bad))


def image_size(size: int | tuple[int, ...] | None) -> tuple[int, int]:
    """(H, W) from H,W or one side for a square; a ValueError outside 1..MAX_IMAGE_SIDE."""
    if size is None:
        return DEFAULT_SIZE
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) == 1:
        hw = (hw[0], hw[0])
    if len(hw) != 2 or min(int(s) for s in hw) < 1:
        raise ValueError(f"size must be H,W (or one number for a square) with positive values, got {size}")
    check_image_size((int(hw[0]), int(hw[1])))
    return int(hw[0]), int(hw[1])


def _scan(root: Path) -> tuple[list[Path], int]:
    """Image files below root, sorted; and how many other (non-hidden) files there were."""
    files, n_other = [], 0
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow symlinked folders: no loops
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if f.startswith("."):
                continue  # .DS_Store and friends: not worth a note
            if Path(f).suffix.lower() in IMAGE_SUFFIXES:
                files.append(Path(dirpath) / f)
            else:
                n_other += 1
    return sorted(files), n_other


def _classes(root: Path, files: list[Path]) -> tuple[list[str], np.ndarray | None]:
    """Top-level subfolder names as classes when every image is inside one."""
    tops = [f.relative_to(root).parts for f in files]
    if any(len(parts) < 2 for parts in tops):
        return [], None
    classes = sorted({parts[0] for parts in tops})
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[parts[0]] for parts in tops], dtype=np.int64)


def _notes(root: Path, n_other: int, bad: list[Path]) -> list[str]:
    notes = []
    if n_other:
        notes.append(f"skipped {n_other} file(s) in {root} that are not images")
    if bad:
        shown = ", ".join(str(p) for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
        notes.append(f"skipped {len(bad)} unreadable image file(s) in {root}: {shown}")
    return notes
