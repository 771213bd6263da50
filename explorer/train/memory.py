"""A training's memory, estimated before anything is allocated, and the budget it must fit: one form value
(hidden width 2,000,000) must not take a shared server to the out-of-memory killer (issue 25)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch import nn

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
    k) holds at its peak. The model is built on the meta device (no memory, any size) and its layers' outputs
    are sized by shape arithmetic: a forward pass on meta tensors would import half of torch (~0.7 s)."""
    with torch.device("meta"):
        model = LatentModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    samples = max(1, samples)
    outputs = (batch_size * layer_outputs(model.encoder, tuple(config.image_shape))
               + batch_size * samples * layer_outputs(model.decoder, (config.latent_dim,))
               + batch_size * samples * math.prod(config.image_shape))  # the codes' images, as scored
    return MemoryEstimate(ADAM_COPIES * BYTES * n_params, BACKWARD * BYTES * outputs, int(data_bytes))


def layer_outputs(net: nn.Module, shape: tuple[int, ...]) -> int:
    """Elements that net's leaf layers output, in order, for one input of the given shape (what autograd
    keeps for the backward pass). Our nets are Linear, Conv2d and ConvTranspose2d layers with activations and
    a Flatten; a flat vector met by a convolution is the decoder's view to its feat_shape."""
    total = 0
    for m in net.modules():
        if list(m.children()):
            continue
        if isinstance(m, nn.Linear):
            shape = (m.out_features,)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            _, h, w = tuple(net.feat_shape) if len(shape) == 1 else shape
            (k, _), (s, _), (p, _) = m.kernel_size, m.stride, m.padding
            if isinstance(m, nn.Conv2d):
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            else:
                h, w = (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k
            shape = (m.out_channels, h, w)
        elif isinstance(m, nn.Flatten):
            shape = (math.prod(shape),)
        total += math.prod(shape)
    return total


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
