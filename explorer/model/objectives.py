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
    """The per-example terms of one objective() call, nats.

    bound: the lower bound on log p(x) with beta = 1 that the call estimates: the ELBO when iwae_k = 1
    (Kingma & Welling 2014, eq. 3), the importance-weighted bound L_k when iwae_k = k > 1 (Burda et al.
    2016, eq. 8), which lies between the ELBO and log p(x). For an autoencoder, the reconstruction term.
    """

    loss: torch.Tensor  # scalar to minimise: -mean(recon - beta * kl), or -mean(IWAE bound)
    bound: torch.Tensor  # (N,) see the docstring; bound_name(iwae_k) says which
    recon: torch.Tensor  # (N,) estimate of E_q[log p(x|z)]
    kl: torch.Tensor  # (N,) KL(q(z|x) || p(z)), closed form or Monte Carlo
    kl_per_dim: torch.Tensor  # (N, D)
    recon_se: torch.Tensor | None = None  # (N,) Monte Carlo standard error of recon over its L draws (L > 1)


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


def reparameterized_sample(q: Distribution, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, section 2.4): (n, N, D).

    With a generator the noise comes from it instead of the global RNG, so a training thread is
    reproducible whatever other threads draw.
    """
    base = _base(q)
    if generator is None or not isinstance(base, Normal):
        return q.rsample((n,))
    loc, scale = base.loc, base.scale
    eps = torch.randn((n, *loc.shape), generator=generator, device=loc.device, dtype=loc.dtype)
    return loc + scale * eps


def objective(model, x: torch.Tensor, target: torch.Tensor | None = None, *, estimator: str = "analytic",
              samples: int = 1, beta: float = 1.0, iwae_k: int = 1,
              generator: torch.Generator | None = None) -> Terms:
    """Negative-bound loss and its parts for a batch x of shape (N, C, H, W).

    target: what the decoder must explain (the clean image for a denoising AE); defaults to x.
    estimator: "analytic" = SGVB B, KL in closed form; "mc" = SGVB A, log q(z|x) - log p(z) sampled.
    samples: L draws of z per example for the ELBO. iwae_k > 1: the importance-weighted bound
    log 1/k sum_i p(x, z_i) / q(z_i|x) (Burda et al. 2016, eq. 8) instead of the ELBO.
    generator: where the reparameterisation noise comes from (default: the global RNG).
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
        return Terms(loss=-recon.mean(), bound=recon, recon=recon, kl=zero.sum(-1), kl_per_dim=zero)

    prior = model.prior
    n_draws = max(samples, iwae_k)
    z = reparameterized_sample(q, n_draws, generator)  # (S, N, D)
    log_px_z = model.decode(z).log_prob(target)  # (S, N)
    recon = log_px_z.mean(0)  # 1/L sum_l log p(x|z_l), both SGVB estimators (K&W eqs. 6, 7)
    mc_kl_dim = None
    if estimator == "mc" or iwae_k > 1:
        mc_kl_dim = log_prob_per_dim(q, z) - log_prob_per_dim(prior, z)  # (S, N, D): log q(z|x) - log p(z)
    if estimator == "analytic":  # SGVB B (K&W eq. 7): KL in closed form, appendix B
        kl_dim = gaussian_kl_per_dim(_base(q), _base(prior)).expand(*q.batch_shape, *q.event_shape)
    else:  # SGVB A (K&W eq. 6): 1/L sum_l [log q(z_l|x) - log p(z_l)]
        kl_dim = mc_kl_dim.mean(0)
    kl = kl_dim.sum(-1)
    if iwae_k > 1:
        # log w_i = log p(x, z_i) - log q(z_i|x); bound = log 1/k sum_i w_i (Burda et al. 2016, eq. 8).
        # beta != 1 tempers the prior ratio, a heuristic with no bound guarantee; Terms.bound stays beta = 1.
        log_ratio = mc_kl_dim.sum(-1)  # (k, N)
        tempered = torch.logsumexp(log_px_z - beta * log_ratio, 0) - math.log(iwae_k)
        bound = tempered if beta == 1.0 else torch.logsumexp(log_px_z - log_ratio, 0) - math.log(iwae_k)
        return Terms(loss=-tempered.mean(), bound=bound.detach(), recon=recon, kl=kl, kl_per_dim=kl_dim)
    se = log_px_z.detach().std(0) / math.sqrt(n_draws) if n_draws > 1 else None  # sd of the mean over draws
    return Terms(loss=-(recon - beta * kl).mean(), bound=recon - kl, recon=recon, kl=kl, kl_per_dim=kl_dim,
                 recon_se=se)


def bound_name(iwae_k: int = 1) -> str:
    """What Terms.bound is for this iwae_k, in words for a title or a legend."""
    return "ELBO" if iwae_k == 1 else f"IWAE bound (k = {iwae_k})"


def warmup_beta(beta: float, step: int, warmup_steps: int) -> float:
    """Linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): beta * min(1, step / warmup)."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)
