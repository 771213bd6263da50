"""Images for the page: enlarged by a whole factor (nearest neighbour), so pixels stay crisp whether the
model's images are 8x8 digits or 28x28 MNIST. Sizes double in presenter mode (explorer.ui.widgets.presenter_mode)."""
from __future__ import annotations

import torch

from explorer.figures.images import png_bytes
from explorer.ui.widgets import presenter_mode


def factor(width: int, px: int) -> int:
    """The whole enlargement that brings an image `width` pixels wide closest to `px` (at least 1), doubled
    for a projector (the factor, not px: exactly twice the size)."""
    return presenter_mode.px(max(1, round(px / max(1, width))))


def png(img: torch.Tensor, px: int) -> bytes:
    """(C, H, W) in [0, 1] -> PNG about px pixels wide."""
    return png_bytes(img, scale=factor(img.shape[-1], px))
