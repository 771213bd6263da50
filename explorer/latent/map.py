"""The latent map's core step, one function for the Latent map page and the live map of a training:
posterior means of the images, a 2-D projection fitted to them, and each image's point on the map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..model.progress import Progress
from .projection import PROJECTIONS, Projection, available_projections, make_projection

DEFAULT_POINTS = {"tsne": 2000, "umap": 5000}  # test images a map starts on: slow methods start on fewer
# the most points a shared server fits a slow method to: a t-SNE of MNIST's 70,000 would hold the CPU for many
# minutes (its times at 2,000 and 10,000 points are in BENCHMARKS.md); PCA and the latent axes take any number
MAX_POINTS = {"tsne": 10_000, "umap": 20_000}


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


def max_points(method: str, n_total: int) -> int:
    """How many points a map of `method` may hold on the server: all n_total, or the slow method's bound."""
    return min(MAX_POINTS.get(method, n_total), n_total)


def check_points(method: str, n: int) -> None:
    """A ValueError, in words a person can act on, when n points are more than `method` is fitted to here."""
    if n > max_points(method, n):
        raise ValueError(f"{PROJECTIONS[method].label} maps at most {MAX_POINTS[method]:,} points here, not {n:,}: "
                         "its fit on more would hold the server's CPU for many minutes. Choose fewer points, or "
                         "PCA, which maps any number.")


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
