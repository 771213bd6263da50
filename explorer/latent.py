"""Paths and grids in latent space: interpolation, the decoded manifold grid, traversals."""
from __future__ import annotations

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


def manifold_grid(n: int, lo: float = 0.05, hi: float = 0.95) -> torch.Tensor:
    """n x n points of a 2-D latent, evenly spaced in probability through the Gaussian's inverse CDF
    (Kingma & Welling 2014, figure 4). Row-major, top row = largest z2: (n * n, 2)."""
    if n < 1:
        raise ValueError("grid size must be at least 1")
    p = torch.linspace(lo, hi, n, dtype=torch.float64)
    vals = Normal(0.0, 1.0).icdf(p).float()
    z1, z2 = torch.meshgrid(vals, vals.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def traversal(z: torch.Tensor, dims: list[int], values: torch.Tensor) -> torch.Tensor:
    """Sweep each latent dimension in dims over values while the others stay at z: (len(dims), V, D)."""
    out = z.expand(len(dims), len(values), z.shape[-1]).clone()
    for i, d in enumerate(dims):
        out[i, :, d] = values
    return out


def prior_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per row of z: (..., D) -> (...)."""
    return Normal(0.0, 1.0).log_prob(z).sum(-1)
