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
from typing import Any

import numpy as np
import torch
from torch import nn

from ..latent.holes import Holes
from ..model.config import ACTIVATIONS, KINDS, LIKELIHOODS
from ..model.latent_model import LatentModel
from ..model.nets import ACTIVATION_MODULES

MAGIC = b"VAEX"
VERSION = 1
IN_PAGE_ENV = "EXPLORER_IN_PAGE"  # "0": every model decodes on the server (a slow browser; the benchmark's baseline)
MAX_PAYLOAD_BYTES = 64 * 2 ** 20  # above this the page keeps the server path: a slow first load for a class
OP_LINEAR, OP_CONV, OP_CONVT, OP_ACT, OP_RESIZE = range(5)
ACT_CODES = {name: i for i, name in enumerate(ACTIVATIONS)}  # relu tanh elu leaky_relu softplus
_ACT_NAMES = {cls: name for name, cls in ACTIVATION_MODULES.items()}  # module types nets.py builds -> names


class _Data:
    """float32 sections appended one after another; offsets are counted in floats."""

    def __init__(self, dry: bool = False) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0
        self.dry = dry  # count offsets only, copy nothing (to ask whether a model can be packed)

    def add(self, a: np.ndarray | torch.Tensor) -> int:
        if self.dry:
            off, self.size = self.size, self.size + int(a.numel() if isinstance(a, torch.Tensor) else np.size(a))
            return off
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a, dtype="<f4").ravel()
        off = self.size
        self.parts.append(a)
        self.size += a.size
        return off


def _ops(net: nn.Module, shape: tuple[int, ...], data: _Data) -> tuple[list[list[float]], tuple[int, ...]]:
    """The layers of an encoder or decoder body as flat op records; shape is its input's (without N)."""
    ops: list[list[float]] = []
    for m in _leaves(net):
        if isinstance(m, nn.Flatten):
            shape = (math.prod(shape),)
        elif isinstance(m, nn.Linear):
            ops.append([OP_LINEAR, m.in_features, m.out_features, data.add(m.weight), data.add(m.bias)])
            shape = (m.out_features,)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if len(shape) == 1:  # a decoder's fc output viewed as its feature map
                shape = tuple(net.feat_shape)
            c, h, w = shape
            _check_conv(m)
            (k, _), (s, _), (p, _) = m.kernel_size, m.stride, m.padding
            if isinstance(m, nn.Conv2d):
                oh, ow, code, cout = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, OP_CONV, m.out_channels
            else:
                oh, ow, code, cout = (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k, OP_CONVT, m.out_channels
            ops.append([code, c, h, w, cout, oh, ow, k, s, p, data.add(m.weight), data.add(m.bias)])
            shape = (cout, oh, ow)
        elif type(m) in _ACT_NAMES:
            ops.append([OP_ACT, ACT_CODES[_ACT_NAMES[type(m)]]])
        else:
            raise ValueError(f"the page cannot run a {type(m).__name__} layer")
    return ops, shape


def _check_conv(m: nn.Conv2d | nn.ConvTranspose2d) -> None:
    """A ValueError for a convolution vaenet.js would run wrongly: it reads one kernel size, stride and
    padding (square, zeros), and has no dilation, groups or transposed output_padding."""
    name = type(m).__name__
    for what in ("kernel_size", "stride", "padding"):
        v = getattr(m, what)
        if isinstance(v, str) or v[0] != v[1]:
            raise ValueError(f"the page cannot run a {name} with {what} {v!r} (it needs one size for both axes)")
    wrong = [f"dilation {m.dilation}" if tuple(m.dilation) != (1, 1) else "",
             f"groups {m.groups}" if m.groups != 1 else "",
             f"padding_mode {m.padding_mode!r}" if m.padding_mode != "zeros" else "",
             f"output_padding {m.output_padding}" if any(getattr(m, "output_padding", (0, 0))) else ""]
    if any(wrong):
        raise ValueError(f"the page cannot run a {name} with {', '.join(w for w in wrong if w)}")


def _leaves(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if not list(m.children())]


def model_header(model: LatentModel, data: _Data, encoder: bool = True) -> dict[str, Any]:
    """The model's part of the header: numbers only. encoder=False: the decoder alone (half the bytes),
    for a page that only decodes."""
    c = model.config
    enc = _ops(model.encoder, tuple(c.image_shape), data)[0] if encoder else []
    dec, dec_shape = _ops(model.decoder, (c.latent_dim,), data)
    if len(dec_shape) == 3 and tuple(dec_shape[1:]) != tuple(c.image_shape[1:]):  # ConvDecoder's final resize
        ch = dec_shape[0]
        dec.append([OP_RESIZE, ch, dec_shape[1], dec_shape[2], c.image_shape[1], c.image_shape[2]])
    return {"image": list(c.image_shape), "latent": c.latent_dim, "kind": KINDS.index(c.kind),
            "likelihood": LIKELIHOODS.index(c.likelihood), "sigma": c.sigma, "encoder": enc, "decoder": dec}


def unsupported(model: LatentModel) -> str | None:
    """Why the page cannot run this model (then the app decodes on the server), or None."""
    if os.environ.get(IN_PAGE_ENV, "1") == "0":
        return f"the in-page model is turned off on this server ({IN_PAGE_ENV}=0)"
    size = 4 * model.num_parameters()
    if size > MAX_PAYLOAD_BYTES:
        return f"its {size / 2 ** 20:.0f} MB of weights are too many to send to the page"
    try:
        _check_numbers(model_header(model, _Data(dry=True)))  # e.g. a checkpoint's sigma of inf
    except (ValueError, KeyError, AttributeError) as e:
        return str(e)
    return None


def pack(model: LatentModel | None = None, arrays: dict[str, np.ndarray] | None = None,
         numbers: dict[str, Any] | None = None, encoder: bool = True) -> bytes:
    """One blob: the model's weights (if any; the decoder alone when not encoder), named float32 arrays,
    and extra header numbers."""
    data = _Data()
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


MAP_MODES = {"axes": 0, "pca": 1}  # other projections (t-SNE, UMAP) cannot be inverted: mode 2, nearest point


def map_mode(proj: Any) -> int:
    """How the page maps the pointer back to z on this projection's map (see map_payload)."""
    return MAP_MODES.get(proj.key, 2)


def map_payload(model: LatentModel, proj: Any, coords: np.ndarray, labels: np.ndarray | None, mu: np.ndarray,
                selected: tuple[float, ...] | None = None, index_offset: int = 0, height: int = 560,
                marks: dict[str, Any] | None = None, thumbs: np.ndarray | None = None,
                holes: Holes | None = None) -> bytes:
    """The latent map for explorer/web/latent_map.js: the model, the points and how the pointer maps back
    to z (mode 0: the map is z; 1: PCA, z = mean + p U; 2: the nearest point's mu). selected: the starred
    point as (x, y, cov_xx, cov_xy, cov_yy). marks: more header numbers for map_select.js (highlight, sel,
    lines_latent, lines_pixel, path). thumbs: the points' images (n, C, H, W) in [0, 1], for the hover label.
    holes (mode 0 only): the prior's holes, array "holes" (rows x cols bytes, image order, as byte_words) with
    holes_grid = [rows, cols], holes_extent = [x0, x1, y0, y1] in z and holes_mass = TV(p, q)."""
    labels = np.zeros(len(coords)) if labels is None else np.asarray(labels)
    arrays: dict[str, Any] = {"coords": np.asarray(coords, np.float32), "labels": labels.astype(np.float32)}
    mode = map_mode(proj)
    if mode == 1:
        arrays.update(pca_mean=proj.mean_, pca_components=proj.components_)
    elif mode == 2:
        arrays["mu"] = np.asarray(mu, np.float32)
    if thumbs is not None:
        arrays["thumbs"] = thumb_words(thumbs)
    numbers: dict[str, Any] = {"mode": mode, "index_offset": index_offset, "height": height, **(marks or {})}
    if holes is not None and mode == 0:
        arrays["holes"] = byte_words(holes.alpha)
        numbers.update(holes_grid=list(holes.alpha.shape), holes_extent=list(holes.extent), holes_mass=holes.mass)
    if selected is not None:
        x, y, a, b, d = selected
        numbers.update(selected_xy=[x, y], selected_cov=[a, b, b, d])
    return pack(model, arrays, numbers, encoder=False)  # the map only decodes


MAX_THUMB_BYTES = 8 * 2 ** 20  # pixels: MNIST's 10,000 test digits fit (BENCHMARKS.md); more get no hover picture
THUMB_LEVELS = 15  # grey levels 0..15, two pixels to a byte: enough for a 56-pixel hover picture


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
