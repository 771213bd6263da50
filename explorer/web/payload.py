"""A model (and the arrays a page draws) packed into one blob for the in-browser forward pass.

Layout, little-endian: b"VAEX", uint32 header length, the header as ASCII JSON, zero padding to a multiple
of 4, then float32 data. The header holds numbers only (layer shapes, codes for the activation and the
likelihood, offsets into the data): no text from a checkpoint ever reaches the page. The page's reader is
explorer/web/vaenet.js; tests/test_web_forward.py holds its numbers against torch.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from typing import Any

import numpy as np
import torch

from ..latent.holes import Holes
from ..latent.sliders import SCORE_KINDS
from ..model.config import KINDS, LIKELIHOODS
from ..model.imported import ImportedModel
from ..model.latent_model import LatentModel
from .onnx_program import imported_programs
from .ops import Data, place
from .torch_ops import native_programs

MAGIC = b"VAEX"
VERSION = 1
IN_PAGE_ENV = "EXPLORER_IN_PAGE"  # "0": every model decodes on the server (a slow browser; the benchmark's baseline)
MAX_PAYLOAD_BYTES = 64 * 2 ** 20  # above this the page keeps the server path: a slow first load for a class


def model_header(model: LatentModel, data: Data, encoder: bool = True) -> dict[str, Any]:
    """The model's part of the header: numbers only. encoder=False: the decoder alone (half the bytes),
    for a page that only decodes. A model trained elsewhere is read from its ONNX graphs (onnx_ops.py)."""
    c = model.config
    if isinstance(model, ImportedModel):
        enc, dec, numbers = imported_programs(model, encoder)
    else:
        enc, dec, numbers = native_programs(model, encoder)
    return {"image": list(c.image_shape), "latent": c.latent_dim, "kind": KINDS.index(c.kind),
            "likelihood": LIKELIHOODS.index(c.likelihood), "sigma": c.sigma, **numbers,
            "encoder": place(enc, data), "decoder": place(dec, data)}


def unsupported(model: LatentModel) -> str | None:
    """Why the page cannot run this model (then the app decodes on the server), or None."""
    if os.environ.get(IN_PAGE_ENV, "1") == "0":
        return f"the in-page model is turned off on this server ({IN_PAGE_ENV}=0)"
    return cannot_run(model)


def cannot_run(model: LatentModel) -> str | None:
    """Why no page can run this model (too large, or a layer vaenet.js does not implement), or None."""
    size = 4 * model.num_parameters()
    if size > MAX_PAYLOAD_BYTES:
        return f"its {size / 2 ** 20:.0f} MB of weights are too many to send to the page"
    try:
        _check_numbers(model_header(model, Data(dry=True)))  # e.g. a checkpoint's sigma of inf
    except (ValueError, KeyError, AttributeError) as e:
        return str(e)
    return None


def pack(model: LatentModel | None = None, arrays: dict[str, np.ndarray] | None = None,
         numbers: dict[str, Any] | None = None, encoder: bool = True) -> bytes:
    """One blob: the model's weights (if any; the decoder alone when not encoder), named float32 arrays,
    and extra header numbers."""
    data = Data()
    header: dict[str, Any] = {"v": VERSION}
    if model is not None:
        with torch.no_grad():
            header["model"] = model_header(model, data, encoder)
    header["arrays"] = {}
    for name, a in (arrays or {}).items():
        a = np.asarray(a, dtype=np.float32)
        header["arrays"][name] = [data.add(a), *a.shape]
    header.update(numbers or {})
    _check_numbers(header)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("ascii")
    head = MAGIC + struct.pack("<I", len(text)) + text
    head += b"\0" * (-len(head) % 4)
    return head + b"".join(p.tobytes() for p in data.parts)


MAP_MODES = {"axes": 0, "pca": 1}  # the projections the page can invert (codes.js: MAP_AXES, MAP_PCA)
MAP_NEAREST = 2  # the others (t-SNE, UMAP): the pointer decodes the nearest encoded point


def map_mode(proj: Any) -> int:
    """How the page maps the pointer back to z on this projection's map (see map_payload)."""
    return MAP_MODES.get(proj.key, MAP_NEAREST)


def map_payload(model: LatentModel, proj: Any, coords: np.ndarray, labels: np.ndarray | None, mu: np.ndarray,
                selected: tuple[float, ...] | None = None, index_offset: int = 0, height: int = 560,
                marks: dict[str, Any] | None = None, thumbs: np.ndarray | None = None,
                holes: Holes | None = None, *, tiles: str | None = None) -> bytes:
    """The latent map for explorer/web/latent_map.js: the decoder alone (the map only decodes) and map_parts,
    its thumbnails deflated (a page that opens the map receives the blob whole, and MNIST's 10,000 digits are
    most of it: 3.9 MB, 0.96 MB deflated; the page inflates them after the map is drawn)."""
    arrays, numbers = map_parts(proj, coords, labels, mu, selected, index_offset, height, marks, thumbs, holes,
                                tiles=tiles, deflate=True)
    return pack(model, arrays, numbers, encoder=False)


def map_parts(proj: Any, coords: np.ndarray, labels: np.ndarray | None, mu: np.ndarray,
              selected: tuple[float, ...] | None = None, index_offset: int = 0, height: int = 560,
              marks: dict[str, Any] | None = None, thumbs: np.ndarray | None = None,
              holes: Holes | None = None, *, tiles: str | None = None,
              deflate: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The map's arrays and header numbers: the points and how the pointer maps back to z (mode 0: the map
    is z; 1: PCA, z = mean + p U, with each point's own mean as float16 bytes "mu16" where they fit
    MAX_MEAN_BYTES, for its decoded tile; 2: the nearest point's mu). selected: the starred point as (x, y,
    cov_xx, cov_xy, cov_yy). marks: more header numbers for map_select.js (highlight, sel, lines_latent,
    lines_pixel, path). thumbs: the points' images (n, C, H, W) in [0, 1], for the hover label and the image
    tiles. holes (mode 0 only): the prior's holes, array "holes" (rows x cols bytes, image order, as byte_words)
    with holes_grid = [rows, cols], holes_extent = [x0, x1, y0, y1] in z and holes_mass = TV(p, q). tiles: what
    the map draws where few points are in view, a key of TILE_SOURCES (default: the images when given, else the
    decoded means); the person can change it on the map. deflate: the thumbnails as "thumbs_z", zlib-deflated
    bytes (thumbs_z_bytes long) in float32 words, for a blob that travels as it is (an exported file deflates
    its whole blob instead)."""
    unlabelled = labels is None  # one colour, and no label named where none was given
    labels = np.zeros(len(coords)) if labels is None else np.asarray(labels)
    arrays: dict[str, Any] = {"coords": np.asarray(coords, np.float32), "labels": labels.astype(np.float32)}
    mode = map_mode(proj)
    if mode == MAP_MODES["pca"]:
        arrays.update(pca_mean=proj.mean_, pca_components=proj.components_)
        if (half := half_words(mu, MAX_MEAN_BYTES)) is not None:
            arrays["mu16"] = half
    elif mode == MAP_NEAREST:
        arrays["mu"] = np.asarray(mu, np.float32)
    numbers: dict[str, Any] = {"mode": mode, "index_offset": index_offset, "height": height,
                               "tiles": tile_code(tiles or ("image" if thumbs is not None else "decoded")),
                               **(marks or {}), **({"unlabelled": 1} if unlabelled else {})}
    if thumbs is not None and deflate:
        packed = zlib.compress(thumb_words(thumbs).view(np.uint8).tobytes(), THUMB_DEFLATE_LEVEL)
        arrays["thumbs_z"] = byte_words(np.frombuffer(packed, np.uint8))
        numbers["thumbs_z_bytes"] = len(packed)
    elif thumbs is not None:
        arrays["thumbs"] = thumb_words(thumbs)
    if holes is not None and mode == MAP_MODES["axes"]:
        arrays["holes"] = byte_words(holes.alpha)
        numbers.update(holes_grid=list(holes.alpha.shape), holes_extent=list(holes.extent), holes_mass=holes.mass)
    if selected is not None:
        x, y, a, b, d = selected
        numbers.update(selected_xy=[x, y], selected_cov=[a, b, b, d])
    return arrays, numbers


MARK_KEYS = ("selected_xy", "selected_cov", "highlight", "sel", "lines_latent", "lines_pixel", "path")


def map_marks(selected: tuple[float, ...] | None = None, marks: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a click changes on the map, apart from its blob: the star (selected as in map_parts) and the marks
    (map_parts' header numbers of those names). A few numbers for the page's setMarks, checked as the header's."""
    out = {k: v for k, v in (marks or {}).items() if k in MARK_KEYS}
    if selected is not None:
        x, y, a, b, d = selected
        out.update(selected_xy=[x, y], selected_cov=[a, b, b, d])
    _check_numbers(out, "marks")
    return out


def tile_code(name: str) -> int:
    """The page's code for a zoomed-in source (TILE_SOURCES), or a ValueError naming the choices."""
    if name not in TILE_SOURCES:
        raise ValueError(f"tiles must be one of {', '.join(TILE_SOURCES)}, got {name!r}")
    return TILE_SOURCES[name]


def slider_parts(z0: np.ndarray, basis: Any, lo: np.ndarray, hi: np.ndarray, c: np.ndarray,
                 version: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The decoder sliders' arrays and numbers for explorer/web/decoder_sliders.js: the start point z0 (D), the
    directions U (D, K) of a latent.sliders.SliderBasis, each slider's ends and value, and its label as numbers
    (the latent dimension it moves, -1 for a principal direction, and the score that ranked it)."""
    kind = SCORE_KINDS.index(basis.score_kind)
    return ({"z0": np.asarray(z0), "U": basis.U, "lo": lo, "hi": hi, "c": c, "label_dim": basis.dims,
             "label_score": basis.scores}, {"score_kind": kind, "version": version})


TILE_SOURCES = {"dots": 0, "image": 1, "decoded": 2}  # zoomed in: dots, each point's image, its decoded mean
MAX_MEAN_BYTES = 4 * 2 ** 20  # a PCA map's per-point means as float16 (BENCHMARKS.md); beyond, no decoded tiles
MAX_THUMB_BYTES = 8 * 2 ** 20  # pixels: MNIST's 10,000 test digits fit (BENCHMARKS.md); more get no hover picture
THUMB_LEVELS = 15  # grey levels 0..15, two pixels to a byte: enough for a 56-pixel hover picture
THUMB_DEFLATE_LEVEL = 6  # zlib's default: MNIST's 3.9 MB of thumbnails to 0.96 MB in 0.08 s, once per map


def thumb_levels(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] as the hover picture's grey levels 0..THUMB_LEVELS, flat (uint8)."""
    return np.round(np.clip(np.asarray(images, np.float32), 0, 1) * THUMB_LEVELS).astype(np.uint8).ravel()


def thumb_words(images: np.ndarray) -> np.ndarray:
    """Images (n, ...) in [0, 1] as 4-bit grey levels, pixel 2i in the low and 2i+1 in the high half of byte i,
    packed four bytes to a float32 word: the page reads the same memory as a Uint8Array (an eighth of the
    size of floats; the words are never read as numbers). The map's blob is re-sent on every click, so its
    size matters: half of what a byte per pixel would send (BENCHMARKS.md has the sizes)."""
    q = thumb_levels(images)
    q = np.concatenate([q, np.zeros(len(q) % 2, np.uint8)])
    return byte_words(q[0::2] | (q[1::2] << 4))


def half_words(a: np.ndarray, limit: int) -> np.ndarray | None:
    """An array as float16 bytes in float32 words (byte_words; explorer/web/half.js reads them), or None when
    they would take over limit bytes or a value does not fit a float16 (65504)."""
    a = np.asarray(a, np.float32)
    if 2 * a.size > limit or not np.all(np.abs(a) <= np.finfo(np.float16).max):
        return None
    return byte_words(a.astype("<f2").view(np.uint8))


def byte_words(b: np.ndarray) -> np.ndarray:
    """Bytes (flattened, zero-padded to a multiple of 4) as float32 words, for the page to read as a
    Uint8Array: the words are never read as numbers."""
    b = np.ascontiguousarray(b, np.uint8).ravel()
    return np.concatenate([b, np.zeros(-len(b) % 4, np.uint8)]).view("<f4")


def read(blob: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """The header and the float32 data of a blob (what the page reads; used by tests)."""
    if blob[:4] != MAGIC:
        raise ValueError("not a VAEX payload")
    (n,) = struct.unpack("<I", blob[4:8])
    header = json.loads(blob[8:8 + n])
    start = 8 + n + (-(8 + n) % 4)
    return header, np.frombuffer(blob[start:], dtype="<f4")


def _check_numbers(x: Any, where: str = "header") -> None:
    """Only numbers (and containers of them) may cross into the page; keys are this module's own names."""
    if isinstance(x, dict):
        for k, v in x.items():
            _check_numbers(v, f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _check_numbers(v, f"{where}[{i}]")
    elif isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{where} must be a finite number, got {x!r}")
