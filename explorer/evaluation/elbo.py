"""The ELBO as the pages show it: one image's bound in its two terms, draws from that image's posterior,
and the KL each latent dimension carries over a data set. Plain floats and CPU arrays, for display."""
from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Normal

from ..model.encoding import Encoding
from ..model.latent_model import LatentModel
from ..model.objectives import gaussian_kl_per_dim, objective


@torch.no_grad()
def bound_terms(model: LatentModel, x: torch.Tensor, samples: int = 64, seed: int = 0) -> dict[str, float]:
    """ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) for one image (1, C, H, W), in nats: the KL in closed
    form (Kingma & Welling 2014, app. B), the reconstruction term averaged over `samples` draws of z.
    For an AE the "reconstruction" is log p(x|z) at the code and there is no KL. "elbo_se": the Monte Carlo
    standard error of the ELBO (the reconstruction term's; the closed-form KL has none), NaN for one draw."""
    dev = next(model.parameters()).device
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)  # the same numbers on every rerun, without touching the global stream
        t = objective(model, x.to(dev), samples=samples if model.is_variational else 1)
    se = t.recon_se.item() if t.recon_se is not None else (0.0 if not model.is_variational else float("nan"))
    return {"recon": t.recon.item(), "kl": t.kl.item(), "elbo": t.bound.item(), "elbo_se": se}  # iwae_k = 1


@torch.no_grad()
def posterior_draws(model: LatentModel, x: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n reparameterised draws z = mu + sigma * eps from q(z|x) of one image (1, C, H, W): (n, D)
    (Kingma & Welling 2014, sec. 2.4)."""
    q = model.encode(x.to(next(model.parameters()).device))
    eps = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return q.mean[0].cpu() + q.variance[0].sqrt().cpu() * eps


def mean_kl_per_dim(enc: Encoding) -> np.ndarray:
    """KL(q(z_d|x) || N(0, 1)) per dimension, averaged over the data: (D,). Zero for an AE.

    A dimension whose KL is at most ALIVE_KL is not alive: its posterior is (almost) the prior (latent_use,
    which also says how this differs from Burda et al.'s active units).
    """
    if not np.any(enc.std > 0):
        return np.zeros(enc.mean.shape[1])
    q = Normal(torch.from_numpy(enc.mean).double(), torch.from_numpy(enc.std).double())
    p = Normal(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    return gaussian_kl_per_dim(q, p).mean(0).numpy()
