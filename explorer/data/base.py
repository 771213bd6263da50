"""The dataset container shared by every loader."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageDataset:
    name: str
    train_x: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    train_y: torch.Tensor | None  # (N,) int64 labels, or None
    test_x: torch.Tensor
    test_y: torch.Tensor | None
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "skipped 3 unreadable files"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    def to(self, device: str | torch.device) -> "ImageDataset":
        mv = lambda t: None if t is None else t.to(device)
        return ImageDataset(self.name, mv(self.train_x), mv(self.train_y), mv(self.test_x), mv(self.test_y),
                            self.classes, self.notes)

    def describe(self) -> dict:
        return {"name": self.name, "image_shape": list(self.image_shape), "train_size": len(self.train_x),
                "test_size": len(self.test_x), "classes": self.classes}


def binarize(x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel with p = grey level (Salakhutdinov & Murray 2008's binarization).

    With a seed the draw is fixed (used once for the test set); without, it is fresh each call.
    """
    gen = None
    if seed is not None:
        gen = torch.Generator(device=x.device).manual_seed(seed)
    return torch.bernoulli(x, generator=gen)
