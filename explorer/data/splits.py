"""A model's images by split: its test split, its training split, or both (test first, then train), as the
likelihood sees them, with their labels and where each came from. What `encode` and the map's whole-data-set
view read; DatasetRef decides which images and which pixel rule.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from .download import DataNotFound
from .pixels import scored_pixels
from .ref import DatasetRef
from .registry import load_dataset
from .training import bundled_mnist_split

SPLITS = ("test", "train", "both")
TRAIN_SEED_OFFSET = 1  # the training split's fixed noise: test_seed + 1, so it is not the test images' noise


@dataclass
class SplitImages:
    """Images (N, C, H, W) as scored, labels (N,) int64 (-1: none), index within their own split (N,), and
    from_train (N,) bool: True for a training image."""

    x: Tensor
    labels: Tensor
    indices: Tensor
    from_train: Tensor

    def first(self, n: int | None) -> "SplitImages":
        if n is None:
            return self
        if n < 1:
            raise ValueError(f"--n must be at least 1, got {n}")
        return SplitImages(self.x[:n], self.labels[:n], self.indices[:n], self.from_train[:n])


def train_seed(ref: DatasetRef) -> int:
    return ref.test_seed + TRAIN_SEED_OFFSET


def load_split(ref: DatasetRef, split: str, data_dir: str | None = None) -> SplitImages:
    """The images of split ("test", "train" or "both") as ref scores them: each split's noise drawn once over
    the whole split (test: test_seed, as every page scores it; train: train_seed), before any subset."""
    grey = load_split_images(ref, split, data_dir)
    return replace(grey, x=scored_split(ref, grey))


def load_split_images(ref: DatasetRef, split: str, data_dir: str | None = None) -> SplitImages:
    """The images of split as a person sees them (grey levels), with labels, indices and where each came from."""
    if split not in SPLITS:
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}; got {split!r}")
    parts = []
    if split in ("test", "both"):
        data = ref.load_test(data_dir)
        parts.append(_part(data.test_x, data.test_y, False))
    if split in ("train", "both"):
        parts.append(_part(*_training_images(ref, data_dir), True))
    return SplitImages(*(torch.cat(t) for t in zip(*parts)))


def scored_split(ref: DatasetRef, grey: SplitImages) -> Tensor:
    """A whole split's grey images (load_split_images: test rows first) as the likelihood sees them: the test
    rows with the test images' noise (ref.scored), the training rows with train_seed's, each drawn over its
    whole part, so row i is the same image whatever subset is taken later."""
    n_test = int((~grey.from_train).sum())
    test, train = grey.x[:n_test], grey.x[n_test:]  # views, not copies
    parts = [ref.scored(test)] if n_test else []
    if len(train):
        parts.append(scored_pixels(train, ref.pixels, train_seed(ref), ref.levels))
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def point_name(from_train: bool, index: int) -> str:
    """What a point of a split is, in words: "test image 12" or "training image 12"."""
    return f"{'training' if from_train else 'test'} image {int(index)}"


def _part(x: Tensor, y: Tensor | None, train: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    n = len(x)
    labels = torch.full((n,), -1, dtype=torch.int64) if y is None else y.to(torch.int64).cpu()
    return x.cpu(), labels, torch.arange(n), torch.full((n,), train)


def _training_images(ref: DatasetRef, data_dir: str | None) -> tuple[Tensor, Tensor | None]:
    """The split the model trained on; never the bundled fallback in its place (that would be other images)."""
    if ref.name in (None, "images"):
        what = "these images are a person's own" if ref.name else "this checkpoint names no data set"
        raise ValueError(f"{what}: they have a test split only (use --split test)")
    if ref.test_from:  # trained on the bundled test split's first images
        data = bundled_mnist_split(data_dir)
        return data.train_x, data.train_y
    kwargs = {}
    if ref.name == "folder" and ref.info.get("image_shape"):  # resized as the model was trained
        c, h, w = ref.info["image_shape"]
        kwargs = {"size": (h, w), "rgb": c == 3}
    try:
        data = load_dataset(ref.name, data_dir, download=False, **kwargs)
    except DataNotFound as e:
        first = str(e).splitlines()[0]
        raise DataNotFound(f"the {ref.name} training split is not on disk ({first}): give its folder with "
                           f"--data-dir DIR or EXPLORER_DATA_DIR") from None
    return data.train_x, data.train_y
