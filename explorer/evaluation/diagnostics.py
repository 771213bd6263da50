"""What the ELBO leaves out, and how its gradients behave: the ELBO gap, SGVB gradient variance and the
amortization gap (active units and posterior collapse: latent_use.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.distributions import Independent, Normal

from ..model.objectives import ESTIMATORS, gaussian_kl_per_dim, objective
from ..model.seeds import GRADIENT_REPEAT, mix_seed
from .likelihood import LogLikelihood, _eval_mode, log_likelihood
from .sampling import normal_params


@dataclass
class ElboGap:
    """log p(x) = ELBO + KL(q(z|x) || p(z|x)); the gap estimates that KL (Kingma & Welling 2014, eq. 1)."""

    log_px: LogLikelihood  # importance-sampled log p(x), with stderr
    elbo: Tensor  # (N,) (1/k) sum_i log w_i over the same k draws
    recon: Tensor  # (N,) E_q[log p(x|z)]
    kl: Tensor  # (N,) recon - elbo: Monte Carlo KL(q(z|x) || p(z)) over the same draws
    gap: Tensor  # (N,) log p(x) - ELBO >= 0 up to noise

    @classmethod
    def of(cls, ll: LogLikelihood) -> "ElboGap":
        """The gap read off an importance-sampled log_likelihood (proposal q(z|x)) and its own draws."""
        if ll.proposal != "posterior":
            raise ValueError("the ELBO gap needs draws from q(z|x) (proposal='posterior')")
        elbo = ll.mean_log_weight
        return cls(ll, elbo, ll.recon, ll.recon - elbo, ll.estimate - elbo)


def elbo_gap(model, x: Tensor, k: int = 5000, *, seed: int = 0, max_rows: int | None = None) -> ElboGap:
    """ELBO and log p(x) from the same k draws of q(z|x), so the gap's Monte Carlo noise mostly cancels."""
    return ElboGap.of(log_likelihood(model, x, k, seed=seed, max_rows=max_rows))


@dataclass
class GradientVariance:
    """Per-parameter variance of the loss gradient over repeated draws of eps, summarised per group."""

    estimator: str  # "analytic" (SGVB B) or "mc" (SGVB A)
    samples: int
    repeats: int
    mean_variance: dict[str, float]  # group -> mean over its parameters of Var[dL/dtheta]
    total_variance: dict[str, float]  # group -> sum over its parameters (trace of the covariance)
    mean_sq_gradient: dict[str, float]  # group -> mean of E[dL/dtheta]^2, the signal to compare with
    per_tensor: dict[str, float] = field(default_factory=dict)  # parameter name -> mean variance


def need_gradients(model, what: str) -> None:
    """A ValueError naming what cannot be computed on a model that gives no gradients (ImportedModel.differentiable)."""
    if not getattr(model, "differentiable", True):
        raise ValueError(f"{what} needs gradients through the model, and this model's networks are ONNX graphs run "
                         "by onnxruntime, which gives none")


def gradient_variance(model, x: Tensor, *, samples: int = 1, repeats: int = 50, seed: int = 0,
                      estimators: tuple[str, ...] = ESTIMATORS) -> dict[str, GradientVariance]:
    """Variance of the SGVB A ("mc") and B ("analytic") gradient estimators at equal samples
    (Kingma & Welling 2014, sec. 2.3). Both see the same eps in each repeat (common random numbers)."""
    if repeats < 2:
        raise ValueError("repeats must be at least 2 to estimate a variance")
    need_gradients(model, "the variance of the gradient estimators")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = {g: [i for i, (n, _) in enumerate(named) if n.startswith(g + ".")] for g in ("encoder", "decoder")}
    groups = {g: idx for g, idx in groups.items() if idx}
    groups["all"] = list(range(len(named)))
    params = [p for _, p in named]
    out = {}
    with _eval_mode(model), torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        for est in estimators:  # fork_rng: the caller's global RNG state is left as it was
            mean = [torch.zeros_like(p) for p in params]
            m2 = [torch.zeros_like(p) for p in params]
            for r in range(repeats):  # Welford: O(parameters) memory whatever the repeats
                torch.manual_seed(mix_seed(seed, GRADIENT_REPEAT, r))
                loss = objective(model, x, estimator=est, samples=samples).loss
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                for g, mu, s2 in zip(grads, mean, m2):
                    g = torch.zeros_like(mu) if g is None else g
                    d = g - mu
                    mu += d / (r + 1)
                    s2 += d * (g - mu)
            var = [s2 / (repeats - 1) for s2 in m2]
            summ = lambda ts, idx: sum(ts[i].sum().item() for i in idx)
            size = lambda idx: max(1, sum(params[i].numel() for i in idx))
            out[est] = GradientVariance(
                est, samples, repeats,
                {g: summ(var, idx) / size(idx) for g, idx in groups.items()},
                {g: summ(var, idx) for g, idx in groups.items()},
                {g: summ([m * m for m in mean], idx) / size(idx) for g, idx in groups.items()},
                {n: v.mean().item() for (n, _), v in zip(named, var)})
    return out


@dataclass
class AmortizationGap:
    """Cremer et al. (2018): ELBO of the encoder's q(z|x) vs the best q found for each x on its own."""

    elbo_encoder: Tensor  # (N,)
    elbo_optimised: Tensor  # (N,) never below elbo_encoder: the start is kept if optimisation did not help
    loc: Tensor  # (N, D) optimised means
    scale: Tensor  # (N, D) optimised standard deviations
    curve: list[float]  # mean training ELBO every step

    @property
    def gap(self) -> Tensor:
        return self.elbo_optimised - self.elbo_encoder


def amortization_gap(model, x: Tensor, *, steps: int = 300, lr: float = 0.05, samples: int = 16,
                     eval_samples: int = 1000, seed: int = 0) -> AmortizationGap:
    """Optimise each example's (mu, log sigma) by Adam on its ELBO, starting from the encoder's.

    The ELBO is E_q[log p(x|z)] - KL(q || p(z)), with the KL in closed form. Both ELBOs are evaluated on the
    same eval_samples draws (common random numbers), so their difference is not swamped by noise.
    """
    need_gradients(model, "the amortization gap (its q* is found by gradient steps)")
    prior = model.prior
    pp = normal_params(prior)
    with _eval_mode(model):
        with torch.no_grad():
            qp = normal_params(model.encode(x))
        if qp is None or pp is None:
            raise ValueError("the amortization gap needs a diagonal Normal q(z|x) and prior")
        loc0, log_scale0 = qp[0].detach().clone(), qp[1].detach().log()
        loc, log_scale = loc0.clone().requires_grad_(), log_scale0.clone().requires_grad_()
        opt = torch.optim.Adam([loc, log_scale], lr=lr)
        gen = torch.Generator(device=x.device).manual_seed(seed)
        curve = []
        for _ in range(steps):
            eps = torch.randn(samples, *loc.shape, generator=gen, device=x.device, dtype=loc.dtype)
            elbo = _elbo(model, x, loc, log_scale, eps, pp)  # (N,); examples are independent
            # autograd.grad, not backward(): the model's own .grad must stay untouched
            loc.grad, log_scale.grad = torch.autograd.grad(-elbo.sum(), [loc, log_scale])
            opt.step()
            curve.append(elbo.mean().item())
        with torch.no_grad():
            eps = torch.randn(eval_samples, *loc.shape, generator=gen, device=x.device, dtype=loc.dtype)
            e0 = _elbo(model, x, loc0, log_scale0, eps, pp)
            e1 = _elbo(model, x, loc, log_scale, eps, pp)
    better = e1 > e0
    loc_best = torch.where(better[:, None], loc.detach(), loc0)
    scale_best = torch.where(better[:, None], log_scale.detach(), log_scale0).exp()
    return AmortizationGap(e0, torch.maximum(e0, e1), loc_best, scale_best, curve)


class GivenPosterior:
    """model with its encoder replaced by given diagonal Normals N(loc, scale), one per example of the x it
    is evaluated on, e.g. an AmortizationGap's q*. log_likelihood(GivenPosterior(model, a.loc, a.scale), x, k)
    is importance sampling with q* as proposal: where the encoder's q is a poor proposal for x, its
    estimate of log p(x) can fall below ELBO(q*), which the true log p(x) never does."""

    def __init__(self, model, loc: Tensor, scale: Tensor):
        self.model, self.loc, self.scale = model, loc, scale

    @property
    def prior(self):
        return self.model.prior

    @property
    def training(self) -> bool:
        return self.model.training

    def eval(self) -> "GivenPosterior":
        self.model.eval()
        return self

    def train(self, mode: bool = True) -> "GivenPosterior":
        self.model.train(mode)
        return self

    def encode(self, x: Tensor):
        if len(x) != len(self.loc):
            raise ValueError(f"GivenPosterior holds q for {len(self.loc)} examples, got {len(x)}")
        return Independent(Normal(self.loc.to(x.device), self.scale.to(x.device)), 1)

    def decode(self, z: Tensor):
        return self.model.decode(z)


def _elbo(model, x: Tensor, loc: Tensor, log_scale: Tensor, eps: Tensor, prior_params) -> Tensor:
    scale = log_scale.exp()
    z = loc + scale * eps  # (S, N, D)
    recon = model.decode(z).log_prob(x).mean(0)
    kl = gaussian_kl_per_dim(Normal(loc, scale), Normal(*prior_params)).sum(-1)
    return recon - kl
