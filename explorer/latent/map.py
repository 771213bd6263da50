"""The latent map's core step, one function for the Latent map page and the live map of a training:
posterior means of the images, a 2-D projection fitted to them, and each image's point on the map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..model.progress import Progress
from .projection import Projection, available_projections, make_projection

DEFAULT_POINTS = {"tsne": 2000, "umap": 5000}  # test images a map starts on: slow methods start on fewer


@dataclass(frozen=True)
class FittedMap:
    mean: np.ndarray  # (n, D) posterior means (codes, for an AE) of the mapped images
    proj: Projection  # fitted to mean
    coords: np.ndarray  # (n, 2) their points on the map


def default_method(latent_dim: int) -> str:
    """The map a latent gets unless asked otherwise: its own axes up to 2-D, else PCA."""
    return available_projections(latent_dim)[0]


def default_points(method: str, n_total: int) -> int:
    """How many test images a map of `method` starts on (all of them for a fast method)."""
    return min(DEFAULT_POINTS.get(method, n_total), n_total)


def fit_map(mean: np.ndarray, method: str | None = None, progress: Progress | None = None) -> FittedMap:
    """Fit `method` (default: default_method) to the codes and place them on the map."""
    proj = make_projection(method or default_method(mean.shape[1]))
    return FittedMap(mean, proj, proj.fit_transform(mean, progress))


@torch.no_grad()
def encode_map(model: LatentModel, x: torch.Tensor, method: str | None = None) -> tuple[Encoding, FittedMap]:
    """Encode x (the model evaluated in eval mode, then left in the mode it was in) and fit_map the means."""
    was_training = model.training
    model.eval()
    try:
        enc = encode(model, x)
    finally:
        model.train(was_training)
    return enc, fit_map(enc.mean, method)
