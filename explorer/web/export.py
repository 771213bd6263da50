"""`export-html` and the map page's "Export as HTML": a model and its map as one HTML file that works offline.

fit_map_for_export encodes the test images and fits the map (the CLI's path; the app passes the map it has);
export_page packs the page's blob (page_blob), inlines it with the page's code (the static page's adapter over
the JS core, bundled into one ES module) and style (export_html), and measures what each part weighs in the
file. BENCHMARKS.md has the sizes and the decode error of --float16.
"""
from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from ..data.ref import DatasetRef
from ..latent.map import encode_map
from ..latent.projection import Projection
from ..model.encoding import Encoding
from ..model.latent_model import LatentModel
from .export_html import html_page
from .page_blob import LEVEL, for_file, page_payload, parts
from .payload import MAP_MODES, map_mode, read
from .sources import HERE

PAGE_ENTRY = "static/page.js"  # the static page's adapter, bundled with the core it imports
PAGE_CSS = ("latent_map.css", "decoder_sliders.css", "draw.css", "static/page.css")


@dataclass(frozen=True)
class Export:
    text: str  # the HTML file
    sizes: dict[str, int]  # bytes in the file: code, weights, points, thumbnails, other, total
    points: int  # dots on the map
    thumbs: bool  # whether the hover label shows each dot's image


def page_code() -> tuple[str, str]:
    """The page's one ES module and its CSS, from the package's own files."""
    from .bundle import bundle

    return bundle(PAGE_ENTRY), "\n".join((HERE / name).read_text(encoding="utf-8") for name in PAGE_CSS)


def fit_map_for_export(model: LatentModel, images: torch.Tensor, n: int,
                       method: str | None = None) -> tuple[Encoding, Projection, np.ndarray]:
    """The first n test images (N, C, H, W, as a person sees them) encoded as the model's likelihood sees them
    (the same posteriors as every page) and mapped: (posteriors, projection, coordinates)."""
    scored = DatasetRef.of(model).scored(images)[:n]  # the split's noise is drawn for the whole split first
    enc, fitted = encode_map(model, scored, method)
    return enc, fitted.proj, fitted.coords


def map_note(model: LatentModel, proj: Projection, n: int, index_offset: int = 0) -> str:
    """What the dots are and what the pointer decodes, in words."""
    first = f" from test image {index_offset:,}" if index_offset else ""
    mode = map_mode(proj)
    if mode == MAP_MODES["axes"]:
        how = "the map's axes are z itself"
    elif mode == MAP_MODES["pca"]:
        how = (f"the map is a PCA of the {model.latent_dim}-D codes; the pointer maps back through it (the "
               f"{model.latent_dim - 2} directions PCA drops are held at the data's mean)")
    else:
        how = f"{proj.label} cannot be inverted, so the pointer decodes the nearest encoded point"
    return f"Each dot is one of {n:,} test images{first}, at the mean of its posterior q(z|x); {how}."


def export_page(model: LatentModel, title: str, enc: Encoding, proj: Projection, coords: np.ndarray,
                labels: np.ndarray | None, images: torch.Tensor | None, *, thumbs: bool = True,
                float16: bool = False, classes: list[str] | None = None, index_offset: int = 0) -> Export:
    """The file for this model and map. images: the mapped test images as a person sees them (thumbnails and
    the drawing's background level), at least len(coords). classes: label names, listed under the numbers."""
    n = len(coords)
    labels = None if labels is None else np.asarray(labels)[:n]
    blob = page_payload(model, enc, proj, coords, labels, images, thumbs)
    fb = for_file(blob, float16)
    script, style = page_code()
    notes = [map_note(model, proj, n, index_offset)]
    names = list(classes or [])
    if names and names != [str(i) for i in range(len(names))]:
        notes.append("Labels: " + ", ".join(f"{i} {name}" for i, name in enumerate(names)) + ".")
    if fb.half:
        notes.append("The weights are stored as float16 in this file (BENCHMARKS.md: the decode error).")
    text = html_page(model, title, fb, script, style, notes)
    file_parts = parts(blob, float16)
    sizes = {k: _in_file(v) for k, v in file_parts.items()}
    sizes["code"] = len(script.encode("utf-8")) + len(style.encode("utf-8"))
    sizes["total"] = len(text.encode("utf-8"))
    return Export(text, sizes, n, "thumbs" in read(blob)[0]["arrays"])


def _in_file(b: bytes) -> int:
    """What bytes weigh in the file when deflated on their own and written as base64 (the blob is deflated
    whole, so the parts add up to about the blob's share of the file)."""
    return len(base64.b64encode(zlib.compress(b, LEVEL)))
