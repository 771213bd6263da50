"""Training objectives of Kingma & Welling (2014) and Burda et al. (2016).

Each works on any object with encode(x) -> q(z|x), decode(z) -> p(x|z) and prior, and returns the
per-example terms so a UI can draw each one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import Distribution, Independent, Normal

from .distributions import PointMass

ESTIMATORS = ("analytic", "mc")  # SGVB B (closed-form KL) and SGVB A (all Monte Carlo)


@dataclass
class Terms:
    loss: torch.Tensor  # scalar to minimise: -mean(recon - beta * kl), or -mean(IWAE bound)
    elbo: torch.Tensor  # (N,) the bound with beta = 1 (the IWAE bound when k > 1), nats
    recon: torch.Tensor  # (N,) estimate of E_q[log p(x|z)]
    kl: torch.Tensor  # (N,) KL(q(z|x) || p(z)), closed form or Monte Carlo
    kl_per_dim: torch.Tensor  # (N, D)


def gaussian_kl_per_dim(q: Normal, p: Normal) -> torch.Tensor:
    """KL(N(mq, sq^2) || N(mp, sp^2)) per dimension, in closed form.

    With p = N(0, 1) this is Kingma & Welling (2014), appendix B: -1/2 (1 + log sq^2 - mq^2 - sq^2).
    """
    var_ratio = (q.scale / p.scale) ** 2
    mean_term = ((q.loc - p.loc) / p.scale) ** 2
    return 0.5 * (var_ratio + mean_term - 1.0 - torch.log(var_ratio))


def _base(d: Distribution) -> Distribution:
    return d.base_dist if isinstance(d, Independent) else d


def log_prob_per_dim(d: Distribution, z: torch.Tensor) -> torch.Tensor:
    """log density of each coordinate of z under a factorised distribution: (..., D)."""
    return _base(d).log_prob(z)


def objective(model, x: torch.Tensor, target: torch.Tensor | None = None, *, estimator: str = "analytic",
              samples: int = 1, beta: float = 1.0, iwae_k: int = 1) -> Terms:
    """Negative-bound loss and its parts for a batch x of shape (N, C, H, W).

    target: what the decoder must explain (the clean image for a denoising AE); defaults to x.
    estimator: "analytic" = SGVB B, KL in closed form; "mc" = SGVB A, log q(z|x) - log p(z) sampled.
    samples: L draws of z per example for the ELBO. iwae_k > 1: the importance-weighted bound
    log 1/k sum_i p(x, z_i) / q(z_i|x) (Burda et al. 2016, eq. 8) instead of the ELBO.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if samples < 1 or iwae_k < 1:
        raise ValueError("samples and iwae_k must be at least 1")
    if samples > 1 and iwae_k > 1:
        raise ValueError("use either samples (ELBO) or iwae_k (IWAE bound), not both")
    target = x if target is None else target
    q = model.encode(x)
    if isinstance(q, PointMass):  # autoencoder: reconstruction only, no KL
        recon = model.decode(q.mean).log_prob(target)
        zero = torch.zeros_like(q.mean)
        return Terms(loss=-recon.mean(), elbo=recon, recon=recon, kl=zero.sum(-1), kl_per_dim=zero)

    prior = model.prior
    n_draws = max(samples, iwae_k)
    z = q.rsample((n_draws,))  # (S, N, D), z = mu + sigma * eps
    log_px_z = model.decode(z).log_prob(target)  # (S, N)
    mc_kl_dim = log_prob_per_dim(q, z) - log_prob_per_dim(prior, z)  # (S, N, D)
    if estimator == "analytic":
        kl_dim = gaussian_kl_per_dim(_base(q), _base(prior)).expand_as(mc_kl_dim[0])
    else:
        kl_dim = mc_kl_dim.mean(0)
    recon = log_px_z.mean(0)
    kl = kl_dim.sum(-1)
    if iwae_k > 1:
        log_w = log_px_z - beta * mc_kl_dim.sum(-1)  # (k, N)
        bound = torch.logsumexp(log_w, 0) - math.log(iwae_k)
        log_w1 = log_px_z - mc_kl_dim.sum(-1)
        elbo = bound if beta == 1.0 else torch.logsumexp(log_w1, 0) - math.log(iwae_k)
        return Terms(loss=-bound.mean(), elbo=elbo.detach(), recon=recon, kl=kl, kl_per_dim=kl_dim)
    return Terms(loss=-(recon - beta * kl).mean(), elbo=recon - kl, recon=recon, kl=kl, kl_per_dim=kl_dim)


def warmup_beta(beta: float, step: int, warmup_steps: int) -> float:
    """Linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): beta * min(1, step / warmup)."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)
