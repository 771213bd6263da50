"""Nearest neighbours of one test image: in latent space (posterior means, Euclidean; for a VAE also the
symmetric KL between the diagonal Gaussian posteriors) and in pixel space, exactly (a brute-force scan).

One query against N points is O(N D) arithmetic in one vectorised pass, fast enough for MNIST's 10,000 test
images in pixel space and in latent space that no index is needed (BENCHMARKS.md, "Nearest neighbours").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

METRICS = {
    "latent": "Euclidean distance between posterior means",
    "kl": "symmetric KL between the posteriors q(z|x), in nats",
    "pixel": "Euclidean distance between the images' pixels",
}


@dataclass
class Neighbours:
    """The k nearest of `index` under `metric`: their indices and distances, nearest first."""

    index: int
    metric: str
    ids: np.ndarray  # (k,) int
    distances: np.ndarray  # (k,) float64


def check_index(index: int, n: int, what: str = "index") -> None:
    """A one-line error for an index outside the test split."""
    if not 0 <= index < n:
        raise ValueError(f"{what} {index} is out of range: the test split has {n} images "
                         f"(indices 0 to {n - 1})")


def euclidean_to(points: np.ndarray, index: int) -> np.ndarray:
    """||p_i - p_index|| for every row of points (N, D): (N,) float64. Differences are taken in the points'
    own precision (float32 pixels: copying 10,000 x 784 of them to float64 would take most of the time) and
    each squared difference is summed in float64."""
    P = np.asarray(points)
    P = P.reshape(len(P), -1) if P.dtype.kind == "f" else P.reshape(len(P), -1).astype(np.float64)
    diff = P - P[index]
    return np.sqrt(np.einsum("nd,nd->n", diff, diff, dtype=np.float64))


def symmetric_kl_to(mean: np.ndarray, std: np.ndarray, index: int) -> np.ndarray:
    """KL(q_index || q_i) + KL(q_i || q_index) for diagonal Gaussians q = N(mean, diag(std^2)): (N,).

    Per dimension KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2; in
    the sum of both directions the logs cancel, leaving (s1^2 + d^2) / (2 s2^2) + (s2^2 + d^2) / (2 s1^2) - 1.
    """
    m, s = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if not np.all(s > 0):
        raise ValueError("the symmetric KL needs posteriors with a spread (a VAE); an autoencoder's codes are points")
    v, v0, d2 = s ** 2, s[index] ** 2, (m - m[index]) ** 2
    return np.sum((v0 + d2) / (2 * v) + (v + d2) / (2 * v0) - 1.0, axis=1)


def k_nearest(distances: np.ndarray, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest distances other than the query's own, nearest first, ties broken by the lower index."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    d = np.asarray(distances, dtype=np.float64).copy()
    d[index] = np.inf  # the image is not its own neighbour
    k = min(k, len(d) - 1)
    ids = np.argsort(d, kind="stable")[:k]
    return ids, d[ids]


def neighbours(metric: str, index: int, k: int, *, mean: np.ndarray | None = None, std: np.ndarray | None = None,
               images: torch.Tensor | np.ndarray | None = None) -> Neighbours:
    """The k nearest test images to image `index` under one of METRICS."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    source = images if metric == "pixel" else mean
    if source is None:
        raise ValueError(f"the {metric} metric needs {'images' if metric == 'pixel' else 'posterior means'}")
    n = len(source)
    check_index(index, n)
    if metric == "pixel":
        x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
        dist = euclidean_to(x, index)
    elif metric == "kl":
        if std is None:
            raise ValueError("the kl metric needs posterior standard deviations")
        dist = symmetric_kl_to(mean, std, index)
    else:
        dist = euclidean_to(mean, index)
    ids, d = k_nearest(dist, index, k)
    return Neighbours(index, metric, ids, d)


def metrics_for(variational: bool) -> list[str]:
    """The metrics that make sense for a model: the KL needs posteriors with a spread."""
    return ["latent", "kl", "pixel"] if variational else ["latent", "pixel"]
