"""Which latent dimensions a model uses: two rules under two names, each defined here only.

alive (the Train page's KL-per-dimension plot and its caption, `evaluate`)
    dimension d is alive when its KL(q(z_d|x) || p(z_d)), averaged over x, exceeds ALIVE_KL nats: the
    posterior differs from the prior there, so the dimension costs the bound something. Cheap: the
    trainer already records the KL of each dimension.
active (the model card's "active latent dimensions", `evaluate`, `info`; Burda et al. 2016, sec. 5.2)
    dimension d is active when Cov_x(E_q[z_d | x]) > ACTIVE_VARIANCE: its posterior mean moves with x,
    so the decoder can read something about x from it.

They mostly agree, but not always. Against a N(0, 1) prior the mean over x of KL_d =
1/2 E_x[mu_d^2 + s_d^2 - 1 - log s_d^2] (Kingma & Welling 2014, app. B) is at least Var_x(mu_d) / 2,
since s^2 - 1 - log s^2 >= 0 and E[mu^2] >= Var(mu): an active dimension always has some KL, though
with equal thresholds it may fall short of ALIVE_KL (active, not alive). The other way is starker: a
dimension whose sigma shrinks while its mean stays put pays KL for nothing that depends on x; it is
alive but not active.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor
from torch.distributions import Normal

from ..model.distributions import PointMass
from ..model.objectives import gaussian_kl_per_dim
from .likelihood import _eval_mode
from .sampling import normal_params

ALIVE_KL = 0.01  # nats of mean KL; below it a dimension's posterior is (almost) the prior
ACTIVE_VARIANCE = 0.01  # Burda et al. (2016), sec. 5.2
COLLAPSE_FRACTION = 0.5  # warn when more than this fraction of the latent dimensions is inactive
# each rule in words, for the captions and printouts that show a count
ALIVE_RULE = f"mean KL(q(z_d|x) || p(z_d)) > {ALIVE_KL:g} nats"
ACTIVE_RULE = f"Var_x E_q[z_d|x] > {ACTIVE_VARIANCE:g}, Burda et al. 2016"


def alive(kl_per_dim: Sequence[float] | Tensor) -> list[bool]:
    """For each dimension, whether its mean KL (nats) exceeds ALIVE_KL."""
    return [float(k) > ALIVE_KL for k in kl_per_dim]


def count_alive(kl_per_dim: Sequence[float] | Tensor) -> int:
    """How many dimensions are alive (see alive)."""
    return sum(alive(kl_per_dim))


@dataclass
class ActiveUnits:
    """Burda et al. (2016), sec. 5.2: dimension d is active when Var_x(E_q[z_d | x]) > threshold."""

    variance: Tensor  # (D,) Var_x of the posterior mean
    active: Tensor  # (D,) bool
    kl_per_dim: Tensor | None  # (D,) mean over x of KL(q(z_d|x) || p(z_d)), nats; None for an AE's point mass
    threshold: float

    @property
    def count(self) -> int:
        return int(self.active.sum())

    @property
    def alive(self) -> list[bool] | None:
        """The other rule, on the same examples: mean KL above ALIVE_KL (see the module docstring); None for
        an AE, whose point-mass code has no KL to a prior."""
        return None if self.kl_per_dim is None else alive(self.kl_per_dim)

    @property
    def collapsed(self) -> bool:
        return self.count < (1 - COLLAPSE_FRACTION) * len(self.active)

    @property
    def warning(self) -> str | None:
        if not self.collapsed:
            return None
        return (f"posterior collapse: only {self.count} of {len(self.active)} latent dimensions are active "
                f"(Var_x E_q[z_d] > {self.threshold:g}); the others carry no information about x")


def active_units(model, x: Tensor, *, threshold: float = ACTIVE_VARIANCE, batch_size: int = 1000) -> ActiveUnits:
    """Active units and per-dimension KL over the examples x. The rule needs only E_q[z|x], so an AE's or a
    DAE's code (a point mass) has active units too; its kl_per_dim is None (a point mass has no KL to p(z))."""
    means, kls = [], []
    with _eval_mode(model), torch.no_grad():
        for i in range(0, len(x), batch_size):
            q = model.encode(x[i:i + batch_size])
            means.append(q.mean.reshape(q.mean.shape[0], -1))
            if not isinstance(q, PointMass):
                kls.append(_kl_per_dim(q, model.prior))
    mu = torch.cat(means)
    var = mu.var(0) if len(mu) > 1 else torch.zeros_like(mu[0])
    kl = torch.cat(kls).mean(0) if kls else None
    return ActiveUnits(var, var > threshold, kl, threshold)


def _kl_per_dim(q, prior, samples: int = 100) -> Tensor:
    qp, pp = normal_params(q), normal_params(prior)
    if qp is not None and pp is not None:  # closed form, Kingma & Welling (2014), appendix B
        return gaussian_kl_per_dim(Normal(*qp), Normal(*pp))
    z = q.sample((samples,))
    base = lambda d: getattr(d, "base_dist", d)
    return (base(q).log_prob(z) - base(prior).log_prob(z)).mean(0)
