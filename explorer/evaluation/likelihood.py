"""log p(x) by importance sampling with q(z|x) as proposal (Rezende et al. 2014, eq. 18; Burda et al. 2016,
eq. 8) and by naive Monte Carlo from the prior, each with a per-example standard error.

    log p(x) ~= log (1/k) sum_i w_i,   w_i = p(x|z_i) p(z_i) / r(z_i),   z_i ~ r   (r = q(z|x) or p(z))

Draws are made per example from its own seeded stream, so a result does not depend on how examples are
batched or how the k samples are chunked through the decoder; only k * batch z vectors are kept at once.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal

from . import fast

PROPOSALS = ("posterior", "prior")
DEFAULT_ROWS = 1024  # z vectors per decoder call: a (rows, 784) float32 block of logits stays in cache
Z_BUDGET = 1 << 22  # floats of z held per example batch (k * batch * D): 16 MiB
Progress = Callable[[int], None]  # called with the number of examples just finished


@dataclass
class LogLikelihood:
    """Per-example Monte Carlo estimate of log p(x) in nats, with its error."""

    estimate: Tensor  # (N,) log (1/k) sum_i w_i
    stderr: Tensor  # (N,) delta method: std(w) / (sqrt(k) mean(w)); nan when k = 1
    ess: Tensor  # (N,) effective sample size (sum w)^2 / sum w^2 (Kong 1992), between 1 and k
    mean_log_weight: Tensor  # (N,) (1/k) sum_i log w_i: the ELBO over the same draws when r = q(z|x)
    recon: Tensor  # (N,) (1/k) sum_i log p(x|z_i)
    k: int
    proposal: str  # "posterior" (importance sampling) or "prior" (naive Monte Carlo)

    def mean(self) -> float:
        return self.estimate.mean().item()

    def mean_stderr(self) -> float:
        """Monte Carlo standard error of the mean over examples (independent draws per example)."""
        return (self.stderr.double().pow(2).sum().sqrt() / len(self.stderr)).item()


def estimate_log_likelihood(model, x: Tensor, k: int = 5000, *, seed: int = 0, max_rows: int = DEFAULT_ROWS,
                            progress: Progress | None = None) -> Tensor:
    """Importance-sampled log p(x) with q(z|x) as proposal: a (N,) tensor in nats."""
    return log_likelihood(model, x, k, seed=seed, max_rows=max_rows, progress=progress).estimate


def log_likelihood(model, x: Tensor, k: int = 5000, *, proposal: str = "posterior", seed: int = 0,
                   max_rows: int = DEFAULT_ROWS, batch_size: int | None = None, use_fast_path: bool = True,
                   progress: Progress | None = None) -> LogLikelihood:
    """log p(x) for x of shape (N, C, H, W), estimated with k importance samples per example.

    proposal="posterior": z ~ q(z|x) (the IWAE estimator); "prior": z ~ p(z) (naive Monte Carlo).
    max_rows: z vectors per decoder call (memory is bounded by it, whatever k is).
    batch_size: examples whose k draws are held at once (default: as many as fit Z_BUDGET floats).
    """
    if proposal not in PROPOSALS:
        raise ValueError(f"proposal must be one of {PROPOSALS}, got {proposal!r}")
    if k < 1 or max_rows < 1:
        raise ValueError("k and max_rows must be at least 1")
    parts = []
    with _eval_mode(model), torch.no_grad():
        for lw, lpx in _log_weight_batches(model, x, k, proposal, seed, max_rows, batch_size, use_fast_path):
            parts.append(_summarise(lw, lpx))
            if progress is not None:
                progress(lw.shape[1])
    cols = [torch.cat(c) if c else torch.empty(0) for c in zip(*parts)] if parts else [torch.empty(0)] * 5
    return LogLikelihood(*cols, k=k, proposal=proposal)


def naive_log_likelihood(model, x: Tensor, k: int = 5000, **kwargs) -> LogLikelihood:
    """Naive Monte Carlo log (1/k) sum_i p(x|z_i), z_i ~ p(z): unbiased in p(x) but, in high dimension,
    almost every draw explains x badly, so the estimate of log p(x) is far below the truth and noisy."""
    return log_likelihood(model, x, k, proposal="prior", **kwargs)


def log_weights(model, x: Tensor, k: int, *, proposal: str = "posterior", seed: int = 0,
                max_rows: int = DEFAULT_ROWS, use_fast_path: bool = True) -> Tensor:
    """All log importance weights log w_i, shape (k, N) (memory k * N floats: for a few examples)."""
    with _eval_mode(model), torch.no_grad():
        out = [lw for lw, _ in _log_weight_batches(model, x, k, proposal, seed, max_rows, None, use_fast_path)]
    return torch.cat(out, 1) if out else torch.empty(k, 0)


# -- internals ---------------------------------------------------------------------------------------
def _summarise(log_w: Tensor, log_px_z: Tensor) -> tuple[Tensor, ...]:
    """Estimate, delta-method stderr and ESS from log weights (k, n), in float64 and in log space."""
    lw = log_w.double()
    k = lw.shape[0]
    lse = torch.logsumexp(lw, 0)
    est = lse - math.log(k)
    r = torch.exp(lw - est)  # w_i / mean(w), mean 1: no overflow whatever the scale of w
    # log mean w = log mu + (mean w - mu) / mu + ..., so se(log mean w) ~= std(w) / (sqrt(k) mu) (delta method)
    se = r.std(0) / math.sqrt(k) if k > 1 else torch.full_like(est, float("nan"))
    ess = r.sum(0) ** 2 / r.pow(2).sum(0)
    f = log_w.dtype
    return (est.to(f).cpu(), se.to(f).cpu(), ess.to(f).cpu(), lw.mean(0).to(f).cpu(),
            log_px_z.double().mean(0).to(f).cpu())


def _log_weight_batches(model, x: Tensor, k: int, proposal: str, seed: int, max_rows: int,
                        batch_size: int | None, use_fast_path: bool) -> Iterator[tuple[Tensor, Tensor]]:
    """Yields (log w, log p(x|z)), each (k, n), for consecutive batches of examples."""
    n_total = len(x)
    prior = model.prior
    dim = prior.event_shape[-1] if len(prior.event_shape) else prior.batch_shape[-1]
    if batch_size is None:
        batch_size = max(1, min(max_rows, Z_BUDGET // (k * dim)))
    fast_path = fast.for_model(model) if use_fast_path else None
    for start in range(0, n_total, batch_size):
        xb = x[start:start + batch_size]
        n = len(xb)
        r = model.encode(xb) if proposal == "posterior" else prior
        z, log_r = _draw(r, k, n, dim, range(start, start + n), seed, x.device, x.dtype)
        log_prior = log_r if proposal == "prior" else _log_prob(prior, z, k, n)
        log_px = torch.empty(k, n, device=x.device, dtype=x.dtype)
        chunk = max(1, max_rows // n)
        ctx = fast_path.prepare(xb) if fast_path is not None else None
        for i in range(0, k, chunk):
            zc = z[i:i + chunk]
            log_px[i:i + chunk] = fast_path.log_prob(zc, ctx) if ctx is not None else model.decode(zc).log_prob(xb)
        yield log_px + (log_prior - log_r), log_px


def _normal_params(d: Distribution) -> tuple[Tensor, Tensor] | None:
    """(loc, scale) of a diagonal Normal over the last dimension, else None."""
    if isinstance(d, Independent) and d.reinterpreted_batch_ndims == 1 and isinstance(d.base_dist, Normal):
        return d.base_dist.loc, d.base_dist.scale
    return None


def _stream_seed(seed: int, index: int) -> int:
    """A 32-bit seed for example `index` (the CPU generator, mt19937, keeps only 32 bits): splitmix64."""
    h = (seed * 0x9E3779B97F4A7C15 + index + 1) & _MASK64
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        h = ((h ^ (h >> shift)) * mult) & _MASK64
    return (h ^ (h >> 31)) & 0xFFFFFFFF


_MASK64 = (1 << 64) - 1


def _draw(r: Distribution, k: int, n: int, dim: int, indices: range, seed: int, device: torch.device,
          dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """z of shape (k, n, D) from r and log r(z) of shape (k, n); example j uses stream (seed, indices[j])."""
    params = _normal_params(r)
    if params is None:  # any other proposal: draw the whole batch under a fixed seed
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(_stream_seed(seed, indices.start))
            z = r.sample((k,) if r.batch_shape else (k, n))
        return z, _log_prob(r, z, k, n)
    loc, scale = (p.to(dtype).expand(n, dim) for p in params)
    eps = torch.empty(k, n, dim, device=device, dtype=dtype)
    g = torch.Generator(device=device)
    for j, i in enumerate(indices):
        g.manual_seed(_stream_seed(seed, i))
        eps[:, j] = torch.randn(k, dim, generator=g, device=device, dtype=dtype)
    z = torch.addcmul(loc, scale, eps)  # z = mu + sigma * eps
    # log N(z; mu, sigma^2) from eps directly: -1/2 |eps|^2 - sum log sigma - D/2 log 2 pi
    log_r = -0.5 * eps.square().sum(-1) - scale.log().sum(-1) - 0.5 * dim * math.log(2 * math.pi)
    return z, log_r


def _log_prob(d: Distribution, z: Tensor, k: int, n: int) -> Tensor:
    lp = d.log_prob(z)
    return lp.reshape(k, n, -1).sum(-1) if lp.dim() > 2 else lp.expand(k, n)


@contextmanager
def _eval_mode(model) -> Iterator[None]:
    was = getattr(model, "training", None)
    if was:
        model.eval()
    try:
        yield
    finally:
        if was:
            model.train()
