"""Which of several estimates of the same log p(x) to report: the larger, example by example.

Importance sampling with any proposal r gives log (1/k) sum_i w_i, whose expectation is at most log p(x)
(Jensen: log is concave; Burda et al. 2016, theorem 1), by more the poorer r is for x. Two estimates of
one log p(x) from different proposals (the encoder's q(z|x), and q* fitted to the image's own ELBO,
Cremer et al. 2018) are both low in expectation, so the larger is the tighter. The maths page and the
`estimators` command both report this choice; this is the only place it is made.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .likelihood import LogLikelihood


@dataclass
class BestEstimate:
    """The larger of several estimates of each example's log p(x), and where each came from."""

    estimate: Tensor  # (N,) nats
    stderr: Tensor  # (N,) the chosen estimate's own standard error (delta method)
    chosen: list[str]  # (N,) the name of the estimate taken for each example
    names: tuple[str, ...]  # every estimate offered, in the order given

    def mean(self) -> float:
        return self.estimate.mean().item()

    def count(self, name: str) -> int:
        """Examples whose estimate came from `name`."""
        return sum(c == name for c in self.chosen)


def best_estimate(**estimates: LogLikelihood) -> BestEstimate:
    """The larger estimate of log p(x) for each example, e.g. best_estimate(q_star=..., encoder=...).

    Every estimate must score the same N examples. Each is a lower bound in expectation (Jensen), so the
    larger is the tighter; on a tie the one named first is kept. The maximum of two noisy estimates is
    itself a little high, by at most E|A - B| / 2 (max(A, B) = (A + B) / 2 + |A - B| / 2): negligible
    when one proposal is worse by more than the estimates' noise, the case this choice is for.
    """
    if not estimates:
        raise ValueError("best_estimate needs at least one estimate")
    names = tuple(estimates)
    sizes = {len(e.estimate) for e in estimates.values()}
    if len(sizes) != 1:
        raise ValueError(f"the estimates score different numbers of examples: {sorted(sizes)}")
    est = torch.stack([estimates[n].estimate for n in names])  # (E, N)
    se = torch.stack([estimates[n].stderr.to(est.device, est.dtype) for n in names])
    # argmax returns the first of equal maxima, so the earlier name wins a tie; a NaN is never chosen
    pick = est.nan_to_num(nan=-torch.inf).argmax(0)
    rows = torch.arange(est.shape[1], device=est.device)
    return BestEstimate(est[pick, rows], se[pick, rows], [names[i] for i in pick.tolist()], names)
