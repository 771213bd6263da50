"""What the notebook widget sends its page, made without anywidget (so it is testable alone): the images and
labels the map shows, their posteriors, the 2-D projection, and the three blobs (map, sliders, drawing pad) that
explorer/web/payload.py packs for the JavaScript core."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.image_files import as_images, as_labels
from ..data.ref import DatasetRef
from ..latent.projection import Projection, available_projections, make_projection
from ..latent.sliders import SliderBasis, slider_basis, slider_coordinates, slider_ranges
from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..store.codes_file import Codes
from ..web.panels import draw_payload, slider_payload, star_mark
from ..web.payload import MAX_THUMB_BYTES, cannot_run, map_payload
from .codes import codes_encoding, codes_images, file_codes

@dataclass
class Prepared:
    """A model's map in a notebook: x (N, C, H, W) grey images, labels (N,) or None, their posteriors, the
    projection and the map coordinates (N, 2), and the sliders' directions and ranges."""

    model: LatentModel
    x: torch.Tensor
    labels: np.ndarray | None
    enc: Encoding
    proj: Projection
    coords: np.ndarray
    basis: SliderBasis
    lo: np.ndarray
    hi: np.ndarray


def images_of(model: LatentModel, images: Any = None, labels: Any = None) -> tuple[torch.Tensor, np.ndarray | None]:
    """The images to map, (N, C, H, W) in [0, 1], and their labels: the given array (checked against the model's
    image shape, as for --images), or the test split of the data set the model names."""
    shape = tuple(model.config.image_shape)
    if images is None:
        try:
            data = DatasetRef.of(model).load_test()
        except ValueError as e:  # a model that names no data set: the message says what to give
            raise ValueError(f"{e}. In a notebook: explorer.widget(model, images=...)") from None
        x, y = data.test_x, data.test_y
    else:
        x = as_images(np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images),
                      shape, "images")
        y = None
    if labels is not None:
        y = labels_of(labels, len(x))
    return x.float(), None if y is None else np.asarray(y, dtype=np.int64)


def labels_of(labels: Any, n: int) -> np.ndarray:
    """Labels given for n images, checked: one whole number each."""
    a = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    return np.asarray(as_labels(a, n, "labels"), dtype=np.int64)


def prepare(model: LatentModel, images: Any = None, labels: Any = None, projection: str | None = None,
            seed: int = 0, codes: Any = None, data_dir: str | None = None) -> Prepared:
    """Encode the images as the model's likelihood sees them (its pixel rule, as the app does), or take their
    codes as given (codes: a codes.npz path, a Codes, (N, D) means or a (means, stds) pair), and fit the map:
    the latent's own axes for a 2-D latent, else PCA (invertible: the pointer decodes z = mean + p U), or the
    projection named ("tsne", "umap": the pointer decodes the nearest point)."""
    why = cannot_run(model)  # the server's EXPLORER_IN_PAGE is not the notebook's business
    if why is not None:
        raise ValueError(f"this model cannot run in the page: {why}")
    if codes is not None:
        x, y, enc = _with_codes(model, codes, images, labels, data_dir)
    else:
        x, y = images_of(model, images, labels)
        training = model.training  # a model still being trained in the notebook goes back to its mode after
        try:
            enc = encode(model.eval(), DatasetRef.of(model).scored(x))
        finally:
            model.train(training)
    key = projection or available_projections(model.latent_dim)[0]
    proj = make_projection(key, seed=seed)
    coords = np.asarray(proj.fit_transform(enc.mean), dtype=np.float32)
    basis = slider_basis(model.latent_dim, enc)  # at most 16, ranked by KL: as the app
    lo, hi = slider_ranges(basis.U, enc, model.is_variational)
    return Prepared(model, x, y, enc, proj, coords, basis, lo, hi)


def _with_codes(model: LatentModel, codes: Any, images: Any, labels: Any,
                data_dir: str | None) -> tuple[torch.Tensor, np.ndarray | None, Encoding]:
    """The images, labels and posteriors of a map whose codes are given: a file's rows find their own images
    and carry their labels; arrays go with the given images (by default the model's test split)."""
    if isinstance(codes, (str, Path, Codes)):
        read = file_codes(model, codes)
        enc = Encoding(read.mean.astype(np.float32), read.std.astype(np.float32))
        if images is None:
            x, y = codes_images(read, model, data_dir)
        else:
            x, y = images_of(model, images)[0], (read.labels if (read.labels >= 0).any() else None)
    else:
        enc = codes_encoding(codes, model.latent_dim)
        x, y = images_of(model, images)
    if len(x) != len(enc.mean):
        raise ValueError(f"{len(enc.mean):,} codes for {len(x):,} images: give one code per image")
    return x, (y if labels is None else labels_of(labels, len(x))), enc


def z_of(p: Prepared, chosen: int | list[float] | None) -> torch.Tensor:
    """The latent point a choice stands for: an image's posterior mean, a z itself, or (nothing chosen) the
    first image's."""
    if isinstance(chosen, list):
        return torch.tensor(chosen, dtype=torch.float32)
    return torch.from_numpy(p.enc.mean[chosen or 0].astype(np.float32))


def map_blob(p: Prepared, height: int, tiles: str | None = None) -> bytes:
    """The map: decoder, points, labels and (when they fit the page's budget) the images for the hover label and
    the zoomed-in tiles (tiles: what those show first, a key of payload.TILE_SOURCES). The star is not in it: it
    moves by star() alone, without sending the map again."""
    thumbs = p.x.numpy() if p.x.numel() <= MAX_THUMB_BYTES else None
    return map_payload(p.model, p.proj, p.coords, p.labels, p.enc.mean, height=height, thumbs=thumbs, tiles=tiles)


def star(p: Prepared, chosen: int | list[float] | None) -> list[float]:
    """The chosen point's star on the map as [x, y, cov_xx, cov_xy, cov_yy]; [] for none (or no place there)."""
    if chosen is None:
        return []
    mark = star_mark(p.proj, p.coords, p.enc.mean, p.enc.std, *((None, chosen) if isinstance(chosen, list)
                                                                   else (chosen, None)))
    return [] if mark is None else list(mark)


def sliders_blob(p: Prepared, chosen: int | list[float] | None, version: int) -> bytes:
    """The decoder sliders, started at the chosen point (a new version resets them there)."""
    z0 = z_of(p, chosen)
    c = slider_coordinates(z0, p.basis.U)
    return slider_payload(p.model, z0, p.basis, p.lo, p.hi, c, version)


def draw_blob(p: Prepared) -> bytes:
    """The drawing pad: the whole model (it encodes) and the images' background level."""
    return draw_payload(p.model, p.x)
