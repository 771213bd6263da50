"""Image tensors -> arrays, PNG strips and grids, animated GIFs (no Streamlit, no plotting)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    a = (x.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    return a[0] if a.shape[0] == 1 else np.transpose(a, (1, 2, 0))


def grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1, pad_value: float = 1.0) -> torch.Tensor:
    """(N, C, H, W) -> one (C, H', W') image with nrow images per row."""
    n, c, h, w = x.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    out = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, dtype=x.dtype)
    for i in range(n):
        r, col = divmod(i, nrow)
        out[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = x[i].cpu()
    return out


def png_bytes(img: torch.Tensor, scale: int = 1) -> bytes:
    pil = Image.fromarray(to_uint8(img))
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: torch.Tensor, scale: int = 4, ms_per_frame: int = 120, bounce: bool = True) -> bytes:
    """(T, C, H, W) -> an animated GIF that loops (there and back when bounce)."""
    seq = list(frames) + (list(frames)[-2:0:-1] if bounce else [])
    pils = [Image.fromarray(to_uint8(f)).resize((f.shape[-1] * scale, f.shape[-2] * scale), Image.NEAREST)
            for f in seq]
    buf = io.BytesIO()
    pils[0].save(buf, format="GIF", save_all=True, append_images=pils[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def save_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
