"""How much an estimate of log p(x) moves between independent runs: its spread over repeats at each k.

One run's curve (the estimate after k = 1, 2, ... draws) can lie anywhere in this band; a class reading a
single curve mistakes noise for signal (a naive estimate above the importance-sampled one, a negative gap).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Bands:
    ks: list[int]
    low: np.ndarray  # (len(ks),) the `quantiles[0]` quantile over runs of log (1/k) sum_{i<=k} w_i
    median: np.ndarray
    high: np.ndarray
    std: np.ndarray  # standard deviation over runs: the estimate's standard error at that k
    runs: int
    quantiles: tuple[float, float]


def running_estimates(log_w: Tensor, ks: list[int]) -> np.ndarray:
    """log (1/k) sum_{i<=k} w_i for each run and each k: log_w (K, R) of R independent runs -> (R, len(ks))."""
    lw = torch.as_tensor(log_w).double()
    if lw.ndim != 2:
        raise ValueError(f"log_w must be (draws, runs), got shape {tuple(lw.shape)}")
    if any(not 1 <= k <= lw.shape[0] for k in ks):
        raise ValueError(f"every k must be between 1 and the {lw.shape[0]} draws, got {ks}")
    cum = torch.logcumsumexp(lw, 0)  # (K, R)
    idx = torch.as_tensor([k - 1 for k in ks])
    return (cum[idx] - torch.log(torch.as_tensor(ks, dtype=torch.float64))[:, None]).T.numpy()


def estimate_bands(log_w: Tensor, ks: list[int], quantiles: tuple[float, float] = (0.1, 0.9)) -> Bands:
    """The spread of the k-draw estimate over the R runs in log_w (K, R), for each k in ks."""
    if not 0 <= quantiles[0] < quantiles[1] <= 1:
        raise ValueError(f"quantiles must be two increasing numbers in [0, 1], got {quantiles}")
    est = running_estimates(log_w, ks)
    runs = est.shape[0]
    std = est.std(0, ddof=1) if runs > 1 else np.full(len(ks), math.nan)
    lo, mid, hi = np.quantile(est, [quantiles[0], 0.5, quantiles[1]], axis=0)
    return Bands(list(ks), lo, mid, hi, std, runs, quantiles)


def repeats_for(k: int, budget: int = 40_000, least: int = 2, most: int = 30) -> int:
    """How many independent runs of k draws to make for a band, within `budget` draws in all."""
    return max(least, min(most, budget // max(1, k)))
