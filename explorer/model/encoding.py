"""A model run over many images or latents: posterior parameters of a data set, decoded images, and the
digest of the weights that caches of them key on. Batched on the model's device; results on the CPU."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .latent_model import LatentModel
from .progress import Progress, report


@dataclass
class Encoding:
    """Posterior parameters of a data set: mean and std of q(z|x), each (N, D); std = 0 for an AE."""

    mean: np.ndarray
    std: np.ndarray


@torch.no_grad()
def encode(model: LatentModel, x: torch.Tensor, batch_size: int = 1000, progress: Progress | None = None) -> Encoding:
    """q(z|x) means and stds for every image, batched on the model's device; progress after each batch."""
    dev = next(model.parameters()).device
    means, stds = [], []
    for i in range(0, len(x), batch_size):
        report(progress, i / max(len(x), 1), f"Encoding {len(x):,} test images… {i / max(len(x), 1):.0%}")
        q = model.encode(x[i:i + batch_size].to(dev))
        means.append(q.mean.float().cpu())
        stds.append(q.variance.float().sqrt().cpu())
    report(progress, 1.0, f"Encoded {len(x):,} test images")
    d = model.latent_dim
    mean = torch.cat(means).numpy() if means else np.zeros((0, d), np.float32)
    std = torch.cat(stds).numpy() if stds else np.zeros((0, d), np.float32)
    return Encoding(mean, std)


@torch.no_grad()
def decode_images(model: LatentModel, z: torch.Tensor) -> torch.Tensor:
    """Mean images of p(x|z) for a batch of latents, on the CPU: (N, C, H, W)."""
    dev = next(model.parameters()).device
    return model.decode_mean(z.to(dev, torch.float32)).float().cpu()


def weights_fingerprint(model: LatentModel) -> str:
    """A cheap digest of the weights, so caches notice a model that is still being trained."""
    with torch.no_grad():
        total = sum(float(p.detach().double().abs().sum()) for p in model.parameters())
    return f"{total:.10e}"
