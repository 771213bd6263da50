"""A training's memory, estimated before anything is allocated, and the budget it must fit: one form value
(hidden width 2,000,000) must not take a shared server to the out-of-memory killer (issue 25)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from ..data.base import ImageDataset
from ..model.config import ModelConfig
from ..model.latent_model import LatentModel
from .config import TrainConfig

BYTES = 4  # float32
ADAM_COPIES = 4  # weights, gradients, Adam's exp_avg and exp_avg_sq
BACKWARD = 2  # the forward's saved outputs, and their gradients in the backward pass
BUDGET_ENV = "EXPLORER_MEMORY_BUDGET_MB"
MB = 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int  # bytes: weights + gradients + optimizer moments
    activations: int  # bytes: one batch's forward outputs and their gradients
    data: int  # bytes: the images held in memory

    @property
    def total(self) -> int:
        return self.parameters + self.activations + self.data

    def describe(self) -> str:
        return (f"about {self.total / MB:,.0f} MB ({self.parameters / MB:,.0f} MB for weights, gradients and Adam's "
                f"moments, {self.activations / MB:,.0f} MB for a batch's activations, "
                f"{self.data / MB:,.0f} MB of data)")


def estimate_training_memory(config: ModelConfig, batch_size: int, samples: int = 1,
                             data_bytes: int = 0) -> MemoryEstimate:
    """What training config's model on batches of batch_size (each image's code drawn `samples` times: IWAE's
    k) holds at its peak, from the model's own code run on the meta device (no memory, any size)."""
    with torch.device("meta"):
        model = LatentModel(config)
        n_params = sum(p.numel() for p in model.parameters())
        outputs = _leaf_outputs(model, config, batch_size, max(1, samples))
    return MemoryEstimate(ADAM_COPIES * BYTES * n_params, BACKWARD * BYTES * outputs, int(data_bytes))


def _leaf_outputs(model: LatentModel, config: ModelConfig, batch: int, samples: int) -> int:
    """Elements output by every leaf module in one encode and decode (saved for the backward pass)."""
    total = 0

    def count(_m, _i, out) -> None:
        nonlocal total
        total += sum(t.numel() for t in (out if isinstance(out, (tuple, list)) else [out]) if torch.is_tensor(t))

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        h = model.encoder(torch.empty(batch, *config.image_shape))
        model.decoder(torch.empty(batch * samples, config.latent_dim))
    finally:
        for hook in hooks:
            hook.remove()
    return total + h.numel() + batch * samples * math.prod(config.image_shape)  # codes, and the scored images


def memory_budget_mb(max_trainings: int | None) -> int:
    """EXPLORER_MEMORY_BUDGET_MB, else half the machine's memory shared by `max_trainings` trainings (a server's),
    or all of it for None (one's own run from the command line)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if raw:
        try:
            mb = int(raw)
        except ValueError:
            raise ValueError(f"{BUDGET_ENV} must be a whole number of megabytes, got {raw!r}") from None
        if mb < 1:
            raise ValueError(f"{BUDGET_ENV} must be at least 1, got {mb}")
        return mb
    if max_trainings is None:
        return max(1, total_memory_bytes() // MB)
    return max(1, total_memory_bytes() // 2 // max(1, max_trainings) // MB)


def total_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): assume a small machine
        return 8 * 2**30


class OverBudget(ValueError):
    """A training whose estimated memory exceeds the budget; its message gives both."""


def check_fits(estimate: MemoryEstimate, budget_mb: int) -> None:
    if estimate.total > budget_mb * MB:
        raise OverBudget(f"this training would need {estimate.describe()}, over this machine's budget of "
                         f"{budget_mb:,} MB per training ({BUDGET_ENV}): choose smaller hidden sizes, a smaller "
                         "batch or fewer samples")


def check_run(model: ModelConfig, train: TrainConfig, data_bytes: int, budget_mb: int) -> None:
    """OverBudget when training model with train's batches (and its k draws) would not fit budget_mb."""
    estimate = estimate_training_memory(model, train.batch_size, max(train.iwae_k, train.samples), data_bytes)
    check_fits(estimate, budget_mb)


def data_bytes(data: ImageDataset) -> int:
    """The bytes a dataset's images take in memory."""
    return sum(t.numel() * t.element_size() for t in (data.train_x, data.test_x))
