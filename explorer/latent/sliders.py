"""The decoder page's sliders: an orthonormal basis U (D, K) of directions to move z along (latent axes
ranked by KL or variance, or principal directions), z's coordinates along it, how far each slider reaches,
and the traversal grid that sweeps each direction in turn."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.elbo import mean_kl_per_dim
from ..model.encoding import Encoding
from .geometry import principal_directions, traversal


SCORE_KINDS = ("", "KL", "variance")  # what ranked the axis sliders; the page gets the index


@dataclass
class SliderBasis:
    """Orthonormal directions U (D, K) that K sliders move along, with a label for each."""

    U: np.ndarray
    labels: list[str]
    note: str = ""
    dims: list[int] | None = None  # the latent dimension each slider moves, -1 for a principal direction
    scores: list[float] | None = None  # what ranked an axis slider (its KL or variance), else 0
    score_kind: str = ""  # one of SCORE_KINDS


def slider_basis(latent_dim: int, enc: Encoding | None = None, max_sliders: int = 16,
                 mode: str = "kl") -> SliderBasis:
    """One slider per latent dimension when there are at most max_sliders; otherwise the max_sliders
    dimensions with the most KL (mode 'kl', AE: the most variance) or the leading principal
    directions of the encoded data (mode 'pca')."""
    D = latent_dim
    if D <= max_sliders:
        return SliderBasis(np.eye(D), [f"z{d + 1}" for d in range(D)], dims=list(range(D)), scores=[0.0] * D)
    if enc is None or len(enc.mean) < 2:
        return SliderBasis(np.eye(D)[:, :max_sliders], [f"z{d + 1}" for d in range(max_sliders)],
                           f"first {max_sliders} of {D} dimensions (no data to rank them)",
                           dims=list(range(max_sliders)), scores=[0.0] * max_sliders)
    if mode == "pca":
        U, sd = principal_directions(enc.mean, max_sliders)
        return SliderBasis(U, [f"PC {k + 1}" for k in range(max_sliders)],
                           f"top {max_sliders} principal directions of the encoded test set (of {D} dims)",
                           dims=[-1] * max_sliders, scores=[0.0] * max_sliders)
    if mode != "kl":
        raise ValueError(f"mode must be 'kl' or 'pca', got {mode!r}")
    kl = mean_kl_per_dim(enc)
    score, what = (kl, "KL") if kl.any() else (enc.mean.var(0), "variance")
    dims = np.argsort(-score, kind="stable")[:max_sliders]
    return SliderBasis(np.eye(D)[:, dims], [f"z{d + 1} ({what} {score[d]:.2f})" for d in dims],
                       f"the {max_sliders} of {D} dimensions with the most {what}",
                       dims=[int(d) for d in dims], scores=[float(score[d]) for d in dims], score_kind=what)


def slider_coordinates(z: torch.Tensor, U: np.ndarray) -> np.ndarray:
    """Where z sits along each slider direction: U^T z, (K,)."""
    return U.T @ z.detach().double().cpu().numpy()


def apply_sliders(z: torch.Tensor, U: np.ndarray, c: np.ndarray) -> torch.Tensor:
    """Move z so that its coordinates along U are c; the part of z outside span(U) stays: z + U (c - U^T z)."""
    zd = z.detach().double().cpu().numpy()
    out = zd + U @ (np.asarray(c, dtype=np.float64) - U.T @ zd)
    return torch.from_numpy(out).to(z.dtype)


def slider_ranges(U: np.ndarray, enc: Encoding | None, variational: bool) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) for each slider: at least ±3 prior standard deviations for a VAE, widened to hold 99% of
    the encoded test set; for an AE (no prior to scale by) the data's range with a margin."""
    K = U.shape[1]
    if enc is None or len(enc.mean) == 0:
        return np.full(K, -4.0), np.full(K, 4.0)
    c = enc.mean.astype(np.float64) @ U  # (N, K) slider coordinates of the data
    qlo, qhi = np.quantile(c, 0.005, axis=0), np.quantile(c, 0.995, axis=0)
    if variational:
        lo, hi = np.minimum(qlo, -3.0), np.maximum(qhi, 3.0)
    else:
        pad = 0.1 * np.maximum(qhi - qlo, 1e-3)
        lo, hi = qlo - pad, qhi + pad
    return np.floor(lo * 2) / 2, np.ceil(hi * 2) / 2  # round outwards to halves: tidy slider ends


def traverse(z: torch.Tensor, U: np.ndarray, values: torch.Tensor) -> torch.Tensor:
    """Sweep each slider direction over values with the rest of z fixed: (K, V, D).

    Works in slider coordinates and maps back, so for an axis basis it is exactly latent.traversal.
    """
    c = torch.from_numpy(slider_coordinates(z, U))
    C = traversal(c, list(range(U.shape[1])), values.double())  # (K, V, K)
    Z = z.detach().double().cpu() + (C - c) @ torch.from_numpy(np.asarray(U, dtype=np.float64)).T
    return Z.to(z.dtype)
