"""What the page sends back (a Streamlit component, the notebook widget), checked before it is used: a page can
send anything. Each rule here is the one both homes use."""
from __future__ import annotations

from typing import Any

import math

import torch


Z_LIMIT = 1e6  # a clicked z beyond this is forged: no map is panned that far, and a decoder's numbers overflow


def number(v: Any, limit: float = math.inf) -> float | None:
    """v as a float if it is a number (not a boolean), finite and within ±limit; else None. JSON may carry an
    integer of 400 digits, which float() cannot hold: refused, not an OverflowError."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) and abs(f) <= limit else None


def pick_rule(n: int, latent_dim: int) -> str:
    """What a click must be, in words, for the messages that refuse one."""
    return f"an image index below {n} or a z of {latent_dim} finite numbers within ±{Z_LIMIT:,.0f}"


def clean_pick(pick: Any, n: int, latent_dim: int) -> dict | None:
    """What the browser sent, checked: an index in range, or a z of the right size within ±Z_LIMIT; else None."""
    if not isinstance(pick, dict):
        return None
    i = pick.get("index")
    if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n:
        return {"index": i}
    z = pick.get("z")
    if isinstance(z, list) and len(z) == latent_dim:
        z = [number(v, Z_LIMIT) for v in z]
        if None not in z:
            return {"z": z}
    return None


def clean_values(c, k: int) -> list[float] | None:
    """What the browser sent, checked: k finite numbers (not booleans), else None."""
    if not (isinstance(c, list) and len(c) == k and k > 0):
        return None
    values = [number(v) for v in c]
    return None if None in values else values


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
    if any(number(v) is None for v in pixels):
        return "some pixels are not finite numbers"
    return torch.tensor(pixels, dtype=torch.float32).view(shape).clamp_(0.0, 1.0)
