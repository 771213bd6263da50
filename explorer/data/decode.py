"""One picture -> pixels: the same preparation for a folder of images and for an uploaded file."""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .base import to_images

# Every picture is shrunk to at most 512x512 (config.MAX_IMAGE_SIDE), so more pixels than a 16-megapixel photo
# only cost memory: a 560 KB PNG can declare 12000x12000 RGBA and unpack to 3 GB. Checked on the header,
# before any pixel is decoded; a larger JPEG is decoded at a reduced scale instead (its DCT allows it).
MAX_PIXELS = 4096 * 4096


def prepare(img: Image.Image, size: tuple[int, int], rgb: bool) -> np.ndarray:
    """A PIL image -> uint8 (H, W, C), C = 3 if rgb else 1.

    Turned upright by its EXIF tag, transparency flattened onto white, centre-cropped to the target's
    aspect ratio and resized (ImageOps.fit), so faces and objects are not stretched.
    """
    h, w = size
    _bound_pixels(img, size)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = ImageOps.fit(img.convert("RGB" if rgb else "L"), (w, h), method=Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def image_from_bytes(data: bytes, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """An uploaded file's bytes -> float32 (C, H, W) in [0, 1], prepared like the folder dataset."""
    c, h, w = image_shape
    if c not in (1, 3) or h < 1 or w < 1:
        raise ValueError(f"image_shape must be (1 or 3, H, W) with positive sizes, got {tuple(image_shape)}")
    if not data:
        raise ValueError("the upload is empty")
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning (past 89 MP) says less than our cap's message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                arr = prepare(img, (h, w), rgb=c == 3)
    except UnidentifiedImageError as e:  # its message names a BytesIO object, which tells a user nothing
        raise ValueError("not an image file; upload a PNG, JPEG, GIF, BMP, TIFF or WebP picture") from e
    except PictureTooLarge:
        raise
    except Image.DecompressionBombError:  # PIL refuses past 179 MP when opening, before our check
        raise PictureTooLarge(f"the picture has far more than {MAX_PIXELS // 10**6} megapixels, "
                              "the most that are read") from None
    except Exception as e:  # PIL raises many types for bad data; the caller wants one
        raise ValueError(f"not a readable image (PNG, JPEG, ...): {e}") from e
    return to_images(arr[None])[0]  # (C, H, W)


class PictureTooLarge(ValueError):
    """A picture with more pixels than MAX_PIXELS (read off its header)."""


def _bound_pixels(img: Image.Image, size: tuple[int, int]) -> None:
    if img.width * img.height > MAX_PIXELS and img.format == "JPEG":
        img.draft(img.mode, (size[1], size[0]))  # decodes at 1/2, 1/4 or 1/8 scale, still at least (w, h)
    if img.width * img.height > MAX_PIXELS:
        raise PictureTooLarge(f"the picture is {img.width}x{img.height} pixels; at most "
                              f"{MAX_PIXELS // 10**6} megapixels are read (it is shrunk to {size[1]}x{size[0]})")


def match_background(x: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A greyscale picture (C, H, W) inverted when its background, read off its border, is light and the data
    set's (reference, (N, C, H, W)) is dark, or the reverse: MNIST's digits are white on black, a digit drawn
    in a paint program black on white, and a model has only ever seen the first. Returns (x, inverted)."""
    if x.shape[0] != 1 or len(reference) == 0:
        return x, False  # colour photos have no one background colour
    if abs(_border_mean(x[None]) - background_level(reference)) > 0.5:
        return 1.0 - x, True
    return x, False


def background_level(reference: torch.Tensor) -> float:
    """The data set's background grey level as match_background reads it (the border mean of its first 1,000
    images); the drawing component gets this number to make the same choice in the page."""
    return _border_mean(reference[:1000])


def _border_mean(x: torch.Tensor) -> float:
    """Mean grey level of the outermost rows and columns of images (N, C, H, W)."""
    edges = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    return float(edges.float().mean())


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit or float greyscale -> 8-bit L; PIL's own convert("L") would clip everything above 255."""
    arr = np.asarray(img, dtype=np.float64)
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    if img.mode == "F" and arr.max(initial=0) <= 1.0:
        top = 1.0
    return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8), "L")
