"""What the page's panels are sent besides the map's points: the decoder sliders' start and directions, the
drawing pad's model, and where the chosen point's star goes on a map. One home for each, used by the Streamlit
pages and the notebook widget alike."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.decode import background_level
from ..latent.projection import Projection
from ..latent.sliders import SliderBasis
from ..model.latent_model import LatentModel
from .payload import pack, slider_parts


def slider_payload(model: LatentModel, z0: torch.Tensor, basis: SliderBasis, lo: np.ndarray, hi: np.ndarray,
                   c: np.ndarray, version: int) -> bytes:
    """The decoder and the sliders' start point, directions, ends and values (slider_parts) for
    decoder_sliders.js; a new version resets the page's sliders to c."""
    return pack(model, *slider_parts(z0.numpy(), basis, lo, hi, c, version), encoder=False)


def draw_numbers(test_x: torch.Tensor | None) -> dict[str, Any]:
    """For grey images, the data set's background level (draw.js's inversion rule; absent, a drawing is never
    inverted)."""
    if test_x is not None and len(test_x) and test_x.shape[1] == 1:
        return {"ref_border": background_level(test_x)}
    return {}


def draw_payload(model: LatentModel, test_x: torch.Tensor | None) -> bytes:
    """The whole model (the pad encodes) and the drawing's background level (draw_numbers)."""
    return pack(model, numbers=draw_numbers(test_x))


def star_mark(proj: Projection, coords: np.ndarray, mean: np.ndarray, std: np.ndarray, index: int | None = None,
              z: list[float] | None = None) -> tuple[float, ...] | None:
    """(x, y, cov_xx, cov_xy, cov_yy) of the chosen image (index into mean and std; coords holds the first
    len(coords) of them) or of a chosen z (no covariance) on the map; None where it has no place there."""
    if z is not None:
        if not proj.inductive:
            return None
        xy = proj.transform(np.asarray([z], dtype=np.float64))[0]
        return (float(xy[0]), float(xy[1]), 0.0, 0.0, 0.0)
    if index is None:
        return None
    if index < len(coords):
        xy = coords[index]
    elif proj.inductive:
        xy = proj.transform(mean[index:index + 1])[0]
    else:
        return None
    s = std[index].astype(np.float64)
    cov = proj.project_covariance(np.diag(s ** 2)) if proj.linear else np.zeros((2, 2))
    return (float(xy[0]), float(xy[1]), float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1]))
