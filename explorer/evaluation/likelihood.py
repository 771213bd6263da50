"""log p(x) by importance sampling with q(z|x) as proposal (Rezende et al. 2014, eq. 18; Burda et al. 2016,
eq. 8) and by naive Monte Carlo from the prior, each with a per-example standard error.

    log p(x) ~= log (1/k) sum_i w_i,   w_i = p(x|z_i) p(z_i) / r(z_i),   z_i ~ r   (r = q(z|x) or p(z))

Draws are made per example from its own seeded stream, so a result does not depend on how examples are
batched or how the k samples are chunked through the decoder; only k * batch z vectors are kept at once.
"""
from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Callable, Iterator

import torch
from torch import Tensor
from torch.distributions import Distribution

from ..model.devices import single_threaded
from . import fast
from .sampling import Draws

PROPOSALS = ("posterior", "prior")
DEFAULT_ROWS = {"cpu": 1024, "cuda": 65536}  # z vectors per decoder call: on CPU a (rows, 784) block of
# float32 logits stays in cache; a GPU wants big launches
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

    def select(self, rows: list[int] | slice | Tensor) -> LogLikelihood:
        """These examples only (a list of indices, a slice or a mask), with the same k and proposal."""
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self)
                                if isinstance(getattr(self, f.name), Tensor)})


def estimate_log_likelihood(model, x: Tensor, k: int = 5000, *, seed: int = 0, max_rows: int | None = None,
                            progress: Progress | None = None) -> Tensor:
    """Importance-sampled log p(x) with q(z|x) as proposal: a (N,) tensor in nats."""
    return log_likelihood(model, x, k, seed=seed, max_rows=max_rows, progress=progress).estimate


def log_likelihood(model, x: Tensor, k: int = 5000, *, proposal: str = "posterior", seed: int = 0,
                   max_rows: int | None = None, batch_size: int | None = None, workers: int | None = None,
                   use_fast_path: bool = True, progress: Progress | None = None) -> LogLikelihood:
    """log p(x) for x of shape (N, C, H, W), estimated with k importance samples per example.

    Results are tensors on x's device, in the decoder's log_prob dtype.
    proposal="posterior": z ~ q(z|x) (the IWAE estimator); "prior": z ~ p(z) (naive Monte Carlo).
    max_rows: z vectors per decoder call (memory is bounded by it, whatever k is); default DEFAULT_ROWS.
    batch_size: examples whose k draws are held at once (default: as many as fit Z_BUDGET floats).
    workers: on CPU, threads that each take whole batches with single-threaded ops (default: torch's
    thread count); no barriers per op, so a busy machine slows it down gracefully. Results do not depend
    on it, nor on max_rows or batch_size: each example draws from its own seeded stream.
    """
    if proposal not in PROPOSALS:
        raise ValueError(f"proposal must be one of {PROPOSALS}, got {proposal!r}")
    if k < 1 or (max_rows is not None and max_rows < 1):
        raise ValueError("k and max_rows must be at least 1")
    parts = []
    for part in _map_batches(model, x, k, proposal, seed, max_rows, batch_size, workers, use_fast_path, _summarise):
        parts.append(part)
        if progress is not None:
            progress(len(part[0]))
    cols = [torch.cat(c) for c in zip(*parts)] if parts else [torch.empty(0, device=x.device)] * 5
    return LogLikelihood(*cols, k=k, proposal=proposal)


def naive_log_likelihood(model, x: Tensor, k: int = 5000, **kwargs) -> LogLikelihood:
    """Naive Monte Carlo log (1/k) sum_i p(x|z_i), z_i ~ p(z): unbiased in p(x) but, in high dimension,
    almost every draw explains x badly, so the estimate of log p(x) is far below the truth and noisy."""
    return log_likelihood(model, x, k, proposal="prior", **kwargs)


def log_weights(model, x: Tensor, k: int, *, proposal: str = "posterior", seed: int = 0,
                max_rows: int | None = None, use_fast_path: bool = True) -> Tensor:
    """All log importance weights log w_i, shape (k, N) (memory k * N floats: for a few examples)."""
    out = [lw for lw, _ in _map_batches(model, x, k, proposal, seed, max_rows, None, 1, use_fast_path,
                                        lambda lw, lpx: (lw, lpx))]
    return torch.cat(out).T if out else torch.empty(k, 0)


def log_likelihood_with_weights(model, x: Tensor, k: int, *, proposal: str = "posterior", seed: int = 0,
                                max_rows: int | None = None, use_fast_path: bool = True
                                ) -> tuple[LogLikelihood, Tensor]:
    """log_likelihood and log_weights (k, N) of the same draws from one pass through the decoder, not two
    (memory k * N floats: for a few examples). Equal to calling both with the same seed."""
    if proposal not in PROPOSALS:
        raise ValueError(f"proposal must be one of {PROPOSALS}, got {proposal!r}")
    if k < 1 or (max_rows is not None and max_rows < 1):
        raise ValueError("k and max_rows must be at least 1")
    parts = list(_map_batches(model, x, k, proposal, seed, max_rows, None, 1, use_fast_path,
                              lambda lw, lpx: (_summarise(lw, lpx), lw)))
    cols = [torch.cat(c) for c in zip(*(p[0] for p in parts))] if parts else [torch.empty(0, device=x.device)] * 5
    log_w = torch.cat([p[1] for p in parts]).T if parts else torch.empty(k, 0)
    return LogLikelihood(*cols, k=k, proposal=proposal), log_w


# -- internals ---------------------------------------------------------------------------------------
def _summarise(log_w: Tensor, log_px_z: Tensor) -> tuple[Tensor, ...]:
    """Estimate, delta-method stderr and ESS from log weights (n, k), in float64 and in log space."""
    device = log_w.device
    if device.type == "mps":  # no float64 there
        log_w, log_px_z = log_w.cpu(), log_px_z.cpu()
    lw = log_w.double()
    k = lw.shape[1]
    est = torch.logsumexp(lw, 1) - math.log(k)
    r = torch.exp(lw - est[:, None])  # w_i / mean(w), mean 1: no overflow whatever the scale of w
    # log mean w = log mu + (mean w - mu) / mu + ..., so se(log mean w) ~= std(w) / (sqrt(k) mu) (delta method)
    se = r.std(1) / math.sqrt(k) if k > 1 else torch.full_like(est, float("nan"))
    ess = r.sum(1) ** 2 / r.pow(2).sum(1)
    f = log_w.dtype
    return tuple(t.to(device, f) for t in (est, se, ess, lw.mean(1), log_px_z.double().mean(1)))


def _map_batches(model, x: Tensor, k: int, proposal: str, seed: int, max_rows: int, batch_size: int | None,
                 workers: int | None, use_fast_path: bool, reduce: Callable) -> Iterator:
    """reduce(log w, log p(x|z)) (each (n, k)) for consecutive batches of examples, in order."""
    prior = model.prior
    dim = prior.event_shape[-1] if len(prior.event_shape) else prior.batch_shape[-1]
    if max_rows is None:
        max_rows = DEFAULT_ROWS.get(x.device.type, DEFAULT_ROWS["cpu"])
    if batch_size is None:
        batch_size = max(1, min(max_rows, Z_BUDGET // (k * dim)))
    fast_path = fast.for_model(model) if use_fast_path else None
    starts = range(0, len(x), batch_size)
    if workers is None:
        workers = torch.get_num_threads() if x.device.type == "cpu" else 1
    workers = max(1, min(workers, len(starts)))

    def job(start: int):
        with torch.no_grad():  # grad mode is per thread
            xb = x[start:start + batch_size]
            return reduce(*_batch_log_weights(model, xb, start, k, proposal, seed, max_rows, fast_path, prior, dim))

    with _eval_mode(model):
        if workers == 1:
            yield from map(job, starts)
            return
        with single_threaded(), ThreadPoolExecutor(workers) as pool:
            pending = deque()
            for start in starts:  # keep a few batches in flight, yield in order
                pending.append(pool.submit(job, start))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


def _batch_log_weights(model, xb: Tensor, start: int, k: int, proposal: str, seed: int, max_rows: int,
                       fast_path, prior: Distribution, dim: int) -> tuple[Tensor, Tensor]:
    """(log w, log p(x|z)), each (n, k), for the examples xb whose first index in x is start."""
    n = len(xb)
    r = model.encode(xb) if proposal == "posterior" else prior
    draws = Draws(r, prior, k, n, dim, range(start, start + n), seed, xb, r_is_prior=proposal == "prior")
    log_w = log_px = None
    chunk = max(1, max_rows // n)
    ctx = fast_path.prepare(xb) if fast_path is not None else None
    for i in range(0, k, chunk):
        j = min(k, i + chunk)
        z, log_ratio = draws.chunk(i, j)  # (n, s, D), log p(z) - log r(z) of shape (n, s)
        if ctx is not None:
            lp = fast_path.log_prob(z, ctx)
        else:  # decode takes sample-major z (s, n, D)
            lp = model.decode(z.transpose(0, 1).contiguous()).log_prob(xb).T
        if log_w is None:
            log_w = torch.empty(n, k, device=lp.device, dtype=lp.dtype)
            log_px = torch.empty_like(log_w)
        log_px[:, i:j] = lp
        log_w[:, i:j] = lp if log_ratio is None else lp + log_ratio
    return log_w, log_px


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
