"""Distributions the models return, so log_prob / sample / mean mean the same thing everywhere."""
from __future__ import annotations

import torch
from torch.distributions import Bernoulli, Distribution, Independent, Normal, constraints


class PointMass(Distribution):
    """A deterministic encoder's "posterior": all mass at loc. Lets an AE share the VAE's API."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: torch.Tensor):
        self.loc = loc
        super().__init__(loc.shape[:-1], loc.shape[-1:], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        return torch.zeros_like(self.loc)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        return self.loc.expand(self._extended_shape(torch.Size(sample_shape)))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        hit = (value == self.loc).all(-1)
        return torch.where(hit, 0.0, float("-inf")).to(self.loc.dtype)


def diagonal_normal(loc: torch.Tensor, scale: torch.Tensor, event_dims: int = 1) -> Independent:
    return Independent(Normal(loc, scale, validate_args=False), event_dims)


def bernoulli_image(logits: torch.Tensor) -> Independent:
    # validate_args=False: the continuous "Bernoulli" log-likelihood on grey levels in [0, 1] is the
    # usual cross-entropy; binarized data gives a proper log-probability.
    return Independent(Bernoulli(logits=logits, validate_args=False), 3)


class Dequantized(Independent):
    """A density p(y) over dequantized pixels y = ((L - 1) x + u) / L, whose log_prob is log p(y) - D log L:
    its expectation over u is a lower bound on log P(x) of the L-level image x (Theis et al. 2016, sec. 3.1),
    so every ELBO and log p(x) built from it is in the same unit as a discrete model's."""

    def __init__(self, base: Independent, offset: float):
        super().__init__(base.base_dist, base.reinterpreted_batch_ndims, validate_args=False)
        self.offset = offset

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return super().log_prob(value) + self.offset

    def expand(self, batch_shape: torch.Size, _instance=None) -> "Dequantized":
        """The same distribution over more images, each with the same offset (Independent's expand would
        drop it)."""
        base = Independent(self.base_dist, self.reinterpreted_batch_ndims, validate_args=False)
        return Dequantized(base.expand(batch_shape), self.offset)
