"""The dataset container shared by every loader."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

MAX_IMAGE_SIDE = 512  # pixels; every picture is decoded at this size, so it bounds a decode's memory


@dataclass
class ImageDataset:
    name: str
    train_x: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    train_y: torch.Tensor | None  # (N,) int64 labels, or None
    test_x: torch.Tensor
    test_y: torch.Tensor | None
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "skipped 3 unreadable files"
    test_from: int = 0  # the test images are the standard test split from this index (the rest trained)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    def to(self, device: str | torch.device) -> "ImageDataset":
        mv = lambda t: None if t is None else t.to(device)
        return ImageDataset(self.name, mv(self.train_x), mv(self.train_y), mv(self.test_x), mv(self.test_y),
                            self.classes, self.notes, self.test_from)

    def describe(self) -> dict:
        out = {"name": self.name, "image_shape": list(self.image_shape), "train_size": len(self.train_x),
               "test_size": len(self.test_x), "classes": self.classes}
        if self.test_from:
            out["test_from"] = self.test_from
        return out


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) indices, each sorted: a seeded shuffle puts round(n * test_fraction) items in test.

    At least one test item when n >= 2 and the fraction is positive, so a tiny set still has a test split.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    n_test = int(round(n * test_fraction))
    if n >= 2 and test_fraction > 0:
        n_test = min(max(n_test, 1), n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_test:].sort().values, perm[:n_test].sort().values


def to_images(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    t = torch.from_numpy(np.asarray(pixels, dtype=np.float32)).div_(255.0)  # a writable float copy
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def check_image_size(hw: tuple[int, ...]) -> None:
    """A ValueError for an image side outside 1..MAX_IMAGE_SIDE (a model, a folder's --image-size)."""
    if min(hw) < 1 or max(hw) > MAX_IMAGE_SIDE:
        raise ValueError(f"image sides must be between 1 and {MAX_IMAGE_SIDE} pixels, got {'x'.join(map(str, hw))}")
