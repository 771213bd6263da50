"""Paths and grids in latent space: interpolation (and the pixel crossfade it is contrasted with), the
principal directions of a set of codes, the decoded manifold grid, traversals."""
from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Normal


def lerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Straight line from z0 to z1, both ends included: (steps, D)."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for generative models): (steps, D).

    Follows an arc instead of the chord, so the path does not cut through the low-norm middle where a
    high-dimensional Gaussian prior puts almost no mass.
    """
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device).unsqueeze(1)
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0, z1, steps)
    cos = torch.clamp(torch.dot(z0 / n0, z1 / n1), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:  # (nearly) the same direction: lerp is the limit
        return lerp(z0, z1, steps)
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s) * z0 + (torch.sin(t * omega) / s) * z1


def pixel_crossfade(xa: torch.Tensor, xb: torch.Tensor, steps: int) -> torch.Tensor:
    """(1 - t) xa + t xb in pixel space, t from 0 to 1: (steps, C, H, W), the contrast to a latent path."""
    return lerp(xa.reshape(-1), xb.reshape(-1), steps).view(steps, *xa.shape)


def principal_directions(mean: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k leading principal directions of the encoded means: (D, k) orthonormal columns, and the
    standard deviation of the data along each: (k,)."""
    mean = np.asarray(mean, dtype=np.float64)
    centred = mean - mean.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    sd = s / np.sqrt(max(1, len(mean) - 1))
    return vt[:k].T.copy(), sd[:k].copy()


def manifold_grid(n: int, lo: float = 0.05, hi: float = 0.95) -> torch.Tensor:
    """n x n points of a 2-D latent, evenly spaced in probability through the Gaussian's inverse CDF
    (Kingma & Welling 2014, figure 4). Row-major, top row = largest z2: (n * n, 2)."""
    if n < 1:
        raise ValueError("grid size must be at least 1")
    p = torch.linspace(lo, hi, n, dtype=torch.float64)
    vals = Normal(0.0, 1.0).icdf(p).float()
    z1, z2 = torch.meshgrid(vals, vals.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def manifold_latents(n: int, latent_dim: int, mean: np.ndarray | None = None,
                     variational: bool = True) -> tuple[torch.Tensor, str]:
    """Latent points for the decoded manifold grid, (n * n, D), and a caption.

    A 2-D latent: the inverse-CDF grid of Kingma & Welling (2014, fig. 4). Larger latents: the same
    grid laid along the two leading principal directions of the encoded data, scaled by the data's
    spread along each, centred on the data mean. An autoencoder (variational False) with a 1- or 2-D
    code has no prior to take quantiles of: its grid spans the 5%…95% quantiles of the encoded data on
    each axis (its codes can span ±30, where N(0, 1) quantiles would decode one small patch).
    """
    g = manifold_grid(n)  # (n * n, 2) standard-normal quantiles
    if not variational and mean is not None and len(mean) >= 2 and latent_dim <= 2:
        p = np.linspace(0.05, 0.95, n)
        axes = [np.quantile(mean[:, d], p) for d in range(latent_dim)]
        if latent_dim == 1:
            z = np.tile(axes[0], n)[:, None]
            return torch.from_numpy(z).float(), "z1 on the encoded test set's 5%…95% quantiles (no prior)"
        z1, z2 = np.meshgrid(axes[0], axes[1][::-1], indexing="xy")  # row-major, top row = largest z2
        z = np.stack([z1.reshape(-1), z2.reshape(-1)], axis=1)
        return torch.from_numpy(z).float(), ("z on a grid of the encoded test set's 5%…95% quantiles on each "
                                             "axis (an autoencoder has no prior to take quantiles of)")
    if latent_dim == 2:
        return g, "z on a grid of N(0, 1) quantiles 5%…95% (Kingma & Welling 2014, fig. 4)"
    if latent_dim == 1:
        return g[:, :1], "z1 on N(0, 1) quantiles (the second grid axis repeats it)"
    if mean is None or len(mean) < 3:
        z = torch.zeros(n * n, latent_dim)
        z[:, :2] = g
        return z, "grid over z1 and z2 with the other dimensions at 0"
    U, sd = principal_directions(mean, 2)
    z = mean.mean(0) + (g.double().numpy() * sd) @ U.T
    return torch.from_numpy(z).float(), ("grid along the two leading principal directions of the encoded "
                                         "test set, ±1.64 std (quantiles 5%…95%)")


def traversal(z: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Sweep each latent dimension in dims over values while the others stay at z: (len(dims), V, D)."""
    out = z.expand(len(dims), len(values), z.shape[-1]).clone()
    for i, d in enumerate(dims):
        out[i, :, d] = values
    return out


def prior_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per row of z: (..., D) -> (...)."""
    return Normal(0.0, 1.0).log_prob(z).sum(-1)
