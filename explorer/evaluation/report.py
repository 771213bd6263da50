"""Side-by-side estimators and the one-call test-set report used by `python -m explorer evaluate`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..model.seeds import ESTIMATE_REPEAT, mix_seed
from .latent_use import active_units
from .likelihood import Progress, log_likelihood


@dataclass
class EstimatorComparison:
    """Repeated estimates of log p(x) at equal k: importance sampling (q(z|x)) vs naive Monte Carlo (p(z))."""

    k: int
    importance: Tensor  # (repeats, N)
    naive: Tensor  # (repeats, N)
    importance_stderr: Tensor  # (N,) mean reported stderr
    naive_stderr: Tensor  # (N,)

    @property
    def importance_spread(self) -> Tensor:
        return self.importance.std(0)

    @property
    def naive_spread(self) -> Tensor:
        return self.naive.std(0)

    @property
    def naive_bias(self) -> Tensor:
        """Mean naive estimate minus mean importance-sampled estimate: very negative in high dimension."""
        return self.naive.mean(0) - self.importance.mean(0)


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of compare_estimators' run number `repeat`; another estimate can share its draws."""
    return mix_seed(seed, ESTIMATE_REPEAT, repeat)


def compare_estimators(model, x: Tensor, k: int = 1000, *, repeats: int = 10, seed: int = 0,
                       max_rows: int | None = None) -> EstimatorComparison:
    """Why naive Monte Carlo fails: its spread and bias against importance sampling, same k, same x."""
    if repeats < 2:
        raise ValueError("repeats must be at least 2")
    seeds = [repeat_seed(seed, r) for r in range(repeats)]  # seed + r would share runs with seed + 1
    runs = {p: [log_likelihood(model, x, k, proposal=p, seed=s, max_rows=max_rows) for s in seeds]
            for p in ("posterior", "prior")}
    est = {p: torch.stack([r.estimate for r in rs]) for p, rs in runs.items()}
    se = {p: torch.stack([r.stderr for r in rs]).mean(0) for p, rs in runs.items()}
    return EstimatorComparison(k, est["posterior"], est["prior"], se["posterior"], se["prior"])


def evaluate(model, x: Tensor, k: int = 5000, *, seed: int = 0, max_rows: int | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
    """Test-set summary (JSON-ready): log p(x) with its Monte Carlo stderr, ELBO and its terms, the gap,
    active units and per-dimension KL, and the wall time."""
    t0 = time.perf_counter()
    ll = log_likelihood(model, x, k, seed=seed, max_rows=max_rows, progress=progress)
    au = active_units(model, x)
    n = len(x)
    return {
        "test_log_likelihood": ll.mean(),
        "test_log_likelihood_stderr": ll.mean_stderr(),  # Monte Carlo error of the mean over examples
        "test_log_likelihood_std": ll.estimate.std().item() if n > 1 else 0.0,  # spread over examples
        "test_elbo": ll.mean_log_weight.mean().item(),
        "test_recon": ll.recon.mean().item(),
        "test_kl": (ll.recon - ll.mean_log_weight).mean().item(),
        "test_gap": (ll.estimate - ll.mean_log_weight).mean().item(),  # estimates E_x KL(q(z|x) || p(z|x))
        "mean_ess": ll.ess.mean().item(),
        "active_units": au.count,
        "latent_dim": len(au.active),
        "kl_per_dim": None if au.kl_per_dim is None else au.kl_per_dim.tolist(),
        "collapse_warning": au.warning,
        "k": k,
        "n": n,
        "seed": seed,
        "seconds": time.perf_counter() - t0,
    }
