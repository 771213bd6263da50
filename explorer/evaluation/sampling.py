"""Draws of z for importance sampling, one seeded stream per example.

Example i of a call draws its k samples from a generator seeded by (seed, i), so its estimate does not
depend on which other examples share its batch, on how the k samples are chunked, or on the number of
worker threads. Layout is example-major, (n, k, D), so a chunk of samples is a slice along dim 1.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal

from ..model.seeds import mix_seed

_LOG_2PI = math.log(2 * math.pi)


def normal_params(d: Distribution) -> tuple[Tensor, Tensor] | None:
    """(loc, scale) of a diagonal Normal over the last dimension (Independent(Normal, 1) or a bare Normal
    read as factorised), else None."""
    if isinstance(d, Independent) and d.reinterpreted_batch_ndims == 1 and isinstance(d.base_dist, Normal):
        return d.base_dist.loc, d.base_dist.scale
    if type(d) is Normal and d.loc.dim() >= 1:
        return d.loc, d.scale
    return None


def stream_seed(seed: int, index: int) -> int:
    """The generator seed of example `index`'s stream (explorer.model.seeds: one scheme for all the code)."""
    return mix_seed(seed, index)


class Draws:
    """k draws of z ~ r for n examples, handed out in chunks with log p(z) - log r(z).

    r is the proposal (q(z|x) for the batch, or the prior); with r = prior the ratio is 0 exactly.
    """

    def __init__(self, r: Distribution, prior: Distribution, k: int, n: int, dim: int, indices: range,
                 seed: int, like: Tensor, r_is_prior: bool):  # like: a tensor on the device to draw on
        self.prior, self.n, self.dim, self.r_is_prior = prior, n, dim, r_is_prior
        self.prior_params = normal_params(prior)
        params = normal_params(r)
        device = like.device
        if params is None:  # any other proposal: the whole batch under one fixed seed
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(stream_seed(seed, indices.start))
                z = r.sample((k, n) if r_is_prior else (k,))  # (k, n, D)
            self.z = z.transpose(0, 1).contiguous()
            self.log_r = _log_prob(r, z, k, n).T
            self.eps = None
            return
        dtype = params[0].dtype  # the model's precision, whatever x's
        self.loc, self.scale = (p.expand(n, dim)[:, None, :] for p in params)  # (n, 1, D)
        self.log_norm_r = -self.scale.log().sum(-1) - 0.5 * dim * _LOG_2PI  # (n, 1)
        self.eps = torch.empty(n, k, dim, device=device, dtype=dtype)
        g = torch.Generator(device=device)
        for j, i in enumerate(indices):
            g.manual_seed(stream_seed(seed, i))
            torch.randn(k, dim, generator=g, out=self.eps[j])

    def chunk(self, i: int, j: int) -> tuple[Tensor, Tensor | None]:
        """z of shape (n, j - i, D), contiguous, and log p(z) - log r(z) of shape (n, j - i) (None if 0)."""
        if self.eps is None:
            z = self.z[:, i:j]
            return z, None if self.r_is_prior else _log_prob_nk(self.prior, z) - self.log_r[:, i:j]
        e = self.eps[:, i:j]
        z = torch.addcmul(self.loc, self.scale, e)  # z = mu + sigma * eps (Kingma & Welling 2014, sec. 2.4)
        if self.r_is_prior:
            return z, None
        log_r = self.log_norm_r - 0.5 * e.square().sum(-1)  # log N(z; mu, sigma^2) from eps directly
        if self.prior_params is not None:
            loc, scale = self.prior_params
            u = (z - loc) / scale
            log_p = -0.5 * u.square().sum(-1) - scale.log().sum(-1) - 0.5 * self.dim * _LOG_2PI
        else:
            log_p = _log_prob_nk(self.prior, z)
        return z, log_p - log_r


def _log_prob(d: Distribution, z: Tensor, k: int, n: int) -> Tensor:
    """log d(z) for z of shape (k, n, D), summed to (k, n)."""
    lp = d.log_prob(z)
    return lp.reshape(k, n, -1).sum(-1) if lp.dim() > 2 else lp.expand(k, n)


def _log_prob_nk(d: Distribution, z: Tensor) -> Tensor:
    """log d(z) for example-major z of shape (n, s, D): (n, s)."""
    n, s = z.shape[:2]
    return _log_prob(d, z.transpose(0, 1), s, n).T
