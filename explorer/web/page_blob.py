"""The exported page's one blob and how it travels inside an HTML file.

page_payload packs everything the page runs on into one payload.pack blob: the model (encoder and decoder: the
drawing panel encodes), the map's points (map_parts), each point's posterior mean (the interpolation strip's
ends), the decoder sliders' directions (slider_parts) and the drawing panel's background level. for_file
deflates it (the page inflates it with DecompressionStream: nothing is fetched) after, on request, storing the
weights as float16; the page turns them back into the float32 blob that explorer/web/vaenet.js reads.
BENCHMARKS.md has what each part weighs.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..latent.projection import Projection
from ..latent.sliders import slider_basis, slider_coordinates, slider_ranges
from ..model.encoding import Encoding
from ..model.latent_model import LatentModel
from .ops import OP_CONV, OP_CONVT, OP_LINEAR
from .panels import draw_numbers
from .payload import MAX_THUMB_BYTES, map_parts, pack, read, slider_parts

MAX_SLIDERS = 16  # as the decoder page: one per dimension up to 16, else the 16 with the most KL
F16_MAX = 65504.0  # the largest finite float16
LEVEL = 6  # zlib: 9 saves under 0.5% on weights and thumbnails and takes several times longer


def page_payload(model: LatentModel, enc: Encoding, proj: Projection, coords: np.ndarray,
                 labels: np.ndarray | None, images: torch.Tensor | None = None, thumbs: bool = True) -> bytes:
    """The whole page's blob. enc: posteriors of the test images (at least the len(coords) mapped ones, which
    also rank and size the sliders); images: those test images as a person sees them (N, C, H, W) in [0, 1],
    for the hover thumbnails (where they fit the map's budget) and the drawing panel's background level."""
    n = len(coords)
    mu = np.asarray(enc.mean[:n], np.float32)
    shown = images[:n].numpy() if images is not None and thumbs and images[:n].numel() <= MAX_THUMB_BYTES else None
    arrays, numbers = map_parts(proj, coords, labels, mu, height=0, thumbs=shown)
    arrays["mu"] = mu  # a chosen dot's z, whatever the map (the interpolation strip's ends; the decoded tiles')
    arrays.pop("mu16", None)  # the same means, rounded: not needed beside these
    basis = slider_basis(model.latent_dim, enc, MAX_SLIDERS, "kl")
    lo, hi = slider_ranges(basis.U, enc, model.is_variational)
    # the sliders start at the prior's mean; an autoencoder has no prior, so at the middle of its codes
    z0 = np.zeros(model.latent_dim) if model.is_variational else enc.mean.astype(np.float64).mean(0)
    c = np.clip(slider_coordinates(torch.from_numpy(z0), basis.U), lo, hi)
    s_arrays, s_numbers = slider_parts(z0.astype(np.float32), basis, lo, hi, c, 0)
    arrays.update(s_arrays)
    numbers.update(s_numbers)
    numbers.update(draw_numbers(images))  # the drawing's inversion rule, as the app's pad
    return pack(model, arrays, numbers, encoder=True)


def weight_ranges(header: dict[str, Any]) -> list[tuple[int, int]]:
    """(offset, size) in floats of every weight and bias the model's op records point at, in order: the numbers
    float16 may round. Gather indices and the map's arrays stay float32 (an index above 2048 would move)."""
    out = []
    for part in ("encoder", "decoder"):
        for op in header["model"][part]:
            if op[0] == OP_LINEAR:
                out += [(op[3], op[1] * op[2]), (op[4], op[2])]
            elif op[0] in (OP_CONV, OP_CONVT):
                cin, cout, k = op[1], op[4], op[7]
                out += [(op[10], cin * cout * k * k), (op[11], cout)]
    return sorted(out)


@dataclass(frozen=True)
class FileBlob:
    data: bytes  # deflated (zlib) bytes: the blob's head, then float32 data with the half ranges as float16
    half: list[tuple[int, int]]  # (offset, size) in floats of the ranges stored as float16


def for_file(blob: bytes, float16: bool = False) -> FileBlob:
    """The blob as it travels in the file. float16: weights and biases rounded to half precision (half the
    weights' bytes; BENCHMARKS.md has the decode error). A ValueError if a weight does not fit a float16."""
    header, data = read(blob)
    start = len(blob) - data.nbytes
    half = weight_ranges(header) if float16 and "model" in header else []
    parts, at = [blob[:start]], 0
    for off, size in half:
        w = data[off:off + size]
        if np.abs(w).max(initial=0) > F16_MAX:
            raise ValueError(f"float16 cannot hold this model's weights (one is {np.abs(w).max():.3g}; "
                             f"the largest float16 is {F16_MAX:g}): export without --float16")
        parts += [data[at:off].tobytes(), w.astype("<f2").tobytes()]
        at = off + size
    parts.append(data[at:].tobytes())
    return FileBlob(zlib.compress(b"".join(parts), LEVEL), half)


def from_file(fb: FileBlob) -> bytes:
    """The float32 blob again, as the page rebuilds it (for tests)."""
    raw = zlib.decompress(fb.data)
    (n,) = struct.unpack("<I", raw[4:8])
    start = 8 + n + (-(8 + n) % 4)
    out, at, pos = [raw[:start]], 0, start
    for off, size in fb.half:
        out.append(raw[pos:pos + 4 * (off - at)])
        pos += 4 * (off - at)
        out.append(np.frombuffer(raw[pos:pos + 2 * size], "<f2").astype("<f4").tobytes())
        pos, at = pos + 2 * size, off + size
    out.append(raw[pos:])
    return b"".join(out)


def parts(blob: bytes, float16: bool = False) -> dict[str, bytes]:
    """The bytes of each part of a page blob as the file stores them (before deflating): weights (float16 on
    request), points (coordinates, labels, posterior means), thumbnails, and the rest (the header, the sliders,
    PCA's axes, a graph's gather indices). For BENCHMARKS.md's table of what each part weighs."""
    header, data = read(blob)
    arrays = header["arrays"]
    ranges = weight_ranges(header) if "model" in header else []
    weights = np.concatenate([data[o:o + s] for o, s in ranges] or [np.zeros(0, "<f4")])
    out = {"weights": (weights.astype("<f2") if float16 else weights).tobytes()}

    def floats(*names: str) -> bytes:
        return b"".join(data[arrays[k][0]:arrays[k][0] + int(np.prod(arrays[k][1:]))].tobytes()
                        for k in names if k in arrays)

    out["points"] = floats("coords", "labels", "mu")
    out["thumbnails"] = floats("thumbs")
    taken = {k for k in ("coords", "labels", "mu", "thumbs") if k in arrays}
    rest = np.ones(len(data), bool)
    for o, s in ranges + [(arrays[k][0], int(np.prod(arrays[k][1:]))) for k in taken]:
        rest[o:o + s] = False
    out["other"] = blob[:len(blob) - data.nbytes] + data[rest].tobytes()
    return out
