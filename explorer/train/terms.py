"""The numbers a training computes: the loss of a step (inside forward, for DDP) and an epoch's test terms."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import nn

from ..model.latent_model import LatentModel
from ..model.objectives import objective
from .config import TrainConfig


class LossModule(nn.Module):
    """Puts the objective inside forward(), which DistributedDataParallel needs to sync gradients."""

    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, target: torch.Tensor, beta: float, cfg: TrainConfig,
                generator: torch.Generator | None = None) -> dict:
        t = objective(self.model, x, target, estimator=cfg.estimator, samples=cfg.samples, beta=beta,
                      iwae_k=cfg.iwae_k, generator=generator)
        return {"loss": t.loss, "recon": t.recon.mean(), "kl": t.kl.mean(), "bound": t.bound.mean(),
                "kl_per_dim": t.kl_per_dim.mean(0)}


@torch.no_grad()
def evaluate_terms(model: LatentModel, x: torch.Tensor, batch_size: int, seed: int = 0) -> dict[str, Any]:
    """Mean single-sample ELBO, reconstruction and KL terms (nats) and per-dimension KL on x, in eval mode.

    z is drawn from a generator seeded with seed, so the numbers do not depend on when they are asked for.
    """
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    sums: dict[str, Any] = defaultdict(float)
    for i in range(0, len(x), batch_size):
        t = objective(model, x[i:i + batch_size].to(device), estimator="analytic", generator=gen)
        sums["elbo"] += t.bound.sum().item()  # iwae_k = 1: the ELBO
        sums["recon"] += t.recon.sum().item()
        sums["kl"] += t.kl.sum().item()
        sums["kl_per_dim"] = sums["kl_per_dim"] + t.kl_per_dim.sum(0)
    n = max(1, len(x))
    out = {k: (v / n) for k, v in sums.items()}
    out["kl_per_dim"] = (out["kl_per_dim"].tolist() if torch.is_tensor(out["kl_per_dim"]) else [])
    return out
