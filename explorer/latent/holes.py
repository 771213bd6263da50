"""The prior's holes on a 2-D latent map: where p(z) = N(0, I) has more density than the aggregate posterior
q(z) = E_x q(z|x) (a Gaussian mixture fitted to draws z ~ q(z|x), mixture.fit_mixture). A prior draw there
decodes to something unlike the data (Makhzani et al. 2016; Rosca et al. 2018, "Distribution matching in
variational inference").

The shading is the density deficit max(0, p(z) - q(z)), as a fraction of p's peak 1 / (2 pi). Its integral is
the total variation distance TV(p, q): the share of the prior's mass that q does not cover."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.mixture import GaussianMixture

GRID = 96  # cells on each axis: 9 KB as bytes
PRIOR_REACH = 3.5  # the grid covers p(z) out to this many sigma (all but 0.1% of its mass), and the data


@dataclass(frozen=True)
class Holes:
    alpha: np.ndarray  # (GRID, GRID) uint8, 255 = p's peak: image order, row 0 at the top (y1), column 0 at x0
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1: the grid's outer edges in z
    mass: float  # the deficit's integral over the grid: TV(p, q), in [0, 1]


def log_prior(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I) for z (N, D)."""
    z = np.asarray(z, np.float64)
    return -0.5 * np.sum(z * z, axis=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def extent(coords: np.ndarray, reach: float = PRIOR_REACH) -> tuple[float, float, float, float]:
    """The grid's edges: the prior's +-reach square, widened to the points (padded 5%) where they lie beyond."""
    c = np.asarray(coords, np.float64).reshape(-1, 2)
    lo, hi = np.full(2, -reach), np.full(2, reach)
    if len(c):
        pad = 0.05 * (c.max(0) - c.min(0))
        lo, hi = np.minimum(lo, c.min(0) - pad), np.maximum(hi, c.max(0) + pad)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def cell_centres(ext: tuple[float, float, float, float], n: int = GRID) -> np.ndarray:
    """(n * n, 2) z at the cells' centres, in image order: row 0 is the top (largest z2)."""
    x0, x1, y0, y1 = ext
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y1 - (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1)


def prior_holes(gmm: GaussianMixture, ext: tuple[float, float, float, float], n: int = GRID) -> Holes:
    """The deficit max(0, p - q) / max p on an n x n grid over ext, with q the fitted mixture (2-D only)."""
    if gmm.means_.shape[1] != 2:
        raise ValueError(f"the holes are drawn for a 2-D latent, not {gmm.means_.shape[1]}-D")
    z = cell_centres(ext, n)
    p, q = np.exp(log_prior(z)), np.exp(gmm.score_samples(z))
    deficit = np.maximum(0.0, p - q)
    x0, x1, y0, y1 = ext
    mass = float(deficit.sum() * (x1 - x0) * (y1 - y0) / n ** 2)  # a midpoint rule
    alpha = np.round(255 * np.clip(deficit * 2 * math.pi, 0, 1)).astype(np.uint8).reshape(n, n)
    return Holes(alpha, ext, min(1.0, mass))
