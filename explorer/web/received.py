"""What the page sends back (a Streamlit component, the notebook widget), checked before it is used: a page can
send anything. Each rule here is the one both homes use."""
from __future__ import annotations

from typing import Any

import math

import numpy as np
import torch


def clean_pick(pick: Any, n: int, latent_dim: int) -> dict | None:
    """What the browser sent, checked: an index in range, or a finite z of the right size; else None."""
    if not isinstance(pick, dict):
        return None
    i = pick.get("index")
    if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n:
        return {"index": i}
    z = pick.get("z")
    if isinstance(z, list) and len(z) == latent_dim and all(isinstance(v, (int, float)) for v in z):
        z = [float(v) for v in z]
        if all(np.isfinite(z)):
            return {"z": z}
    return None


def clean_values(c, k: int) -> list[float] | None:
    """What the browser sent, checked: k finite numbers (not booleans), else None."""
    if not (isinstance(c, list) and len(c) == k and k > 0):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in c):
        return None
    return [float(v) for v in c]


def clean_selection(sel: Any, n: int) -> list[int] | None:
    """A box or lasso from the page, checked: {"ids": [...]} of whole numbers in range; sorted, no repeats.
    An empty list is a valid (empty) selection; anything malformed is None."""
    ids = sel.get("ids") if isinstance(sel, dict) else None
    if not isinstance(ids, list) or len(ids) > n:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in ids):
        return None
    return sorted(set(ids))


def clean_image(value: Any, shape: tuple[int, int, int]) -> torch.Tensor | str:
    """The page's pixels ({"pixels": [...]}) as a float32 tensor of the model's image shape, clipped to [0, 1];
    or why not."""
    pixels = value.get("pixels") if isinstance(value, dict) else None
    n = math.prod(shape)
    if not isinstance(pixels, list) or len(pixels) != n:
        return f"expected {n} pixels, got {len(pixels) if isinstance(pixels, list) else type(pixels).__name__}"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pixels):
        return "some pixels are not finite numbers"
    return torch.tensor(pixels, dtype=torch.float32).view(shape).clamp_(0.0, 1.0)
