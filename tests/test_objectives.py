"""Objectives against exact answers.

The reference is the linear Gaussian model of tests/reference_models.py, whose evidence log p(x) and
posterior p(z|x) are known in closed form. For any q, log p(x) - ELBO(q) = KL(q || p(z|x))
(Kingma & Welling 2014, eq. 2), so every bound can be checked to the last digit or to within its
Monte Carlo standard error.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from explorer import ModelConfig, build_model, objective
from explorer.data.pixels import mask
from explorer.model.distributions import diagonal_normal
from explorer.model.objectives import bound_name, gaussian_kl_per_dim, reparameterized_sample, warmup_beta
from tests.reference_models import LinearGaussian

P, D, SIGMA = 6, 3, 0.5

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def linear_model(orthogonal: bool, seed: int = 0) -> tuple[LinearGaussian, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, D, generator=g, dtype=torch.float64)
    if orthogonal:  # W = Q diag(c): W^T W diagonal, so the exact posterior is a diagonal Gaussian
        Q, _ = torch.linalg.qr(A)
        W = Q * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    else:
        W = A
    b = torch.randn(P, generator=g, dtype=torch.float64)
    model = LinearGaussian(W, b, SIGMA)
    z = torch.randn(4, D, generator=g, dtype=torch.float64)
    x = z @ W.T + b + SIGMA * torch.randn(4, P, generator=g, dtype=torch.float64)  # draws from the model
    return model, x


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def repeat(x: torch.Tensor, r: int) -> torch.Tensor:
    """Each row r times, so one objective() call gives r independent estimates per row: (r * N, P)."""
    return x.repeat(r, 1)


def mean_and_se(v: torch.Tensor, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    v = v.view(-1, n_rows)
    return v.mean(0), v.std(0) / math.sqrt(len(v))


# -- KL ----------------------------------------------------------------------------------------------
def test_closed_form_kl_matches_torch_and_appendix_b() -> None:
    g = gen(1)
    mu, scale = torch.randn(5, D, generator=g, dtype=torch.float64), torch.rand(5, D, generator=g, dtype=torch.float64) + 0.2
    q, prior = Normal(mu, scale), Normal(torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64))
    kl = gaussian_kl_per_dim(q, prior)
    # Kingma & Welling (2014), appendix B: -KL = 1/2 sum (1 + log sigma^2 - mu^2 - sigma^2)
    torch.testing.assert_close(kl, -0.5 * (1 + torch.log(scale ** 2) - mu ** 2 - scale ** 2))
    torch.testing.assert_close(kl, kl_divergence(q, prior))
    torch.testing.assert_close(kl.sum(-1), kl_divergence(Independent(q, 1), Independent(prior, 1)))
    p = Normal(torch.randn(D, generator=g, dtype=torch.float64), torch.rand(D, generator=g, dtype=torch.float64) + 0.5)
    torch.testing.assert_close(gaussian_kl_per_dim(q, p), kl_divergence(q, p))  # general p too
    assert torch.equal(gaussian_kl_per_dim(prior, prior), torch.zeros(D, dtype=torch.float64))


def test_closed_form_kl_matches_large_sample_monte_carlo() -> None:
    model, x = linear_model(orthogonal=False)
    model.shift, model.widen = 0.7, 1.6
    r = 20000
    xs = repeat(x, r)
    mc = objective(model, xs, estimator="mc", generator=gen(2))
    exact = objective(model, x, estimator="analytic", generator=gen(2)).kl
    kl_mean, kl_se = mean_and_se(mc.kl, len(x))
    assert ((kl_mean - exact).abs() < 4 * kl_se).all(), (kl_mean, exact, kl_se)
    per_dim = mc.kl_per_dim.view(r, len(x), D).mean(0)
    torch.testing.assert_close(per_dim.sum(-1), kl_mean)
    assert (exact > 0).all()


@pytest.mark.parametrize("estimator", ["analytic", "mc"])
@pytest.mark.parametrize("samples", [1, 3])
def test_kl_per_dim_sums_to_kl(estimator: str, samples: int) -> None:
    model, x = linear_model(orthogonal=False)
    t = objective(model, x, estimator=estimator, samples=samples, generator=gen())
    assert t.kl_per_dim.shape == (len(x), D) and t.kl.shape == (len(x),)
    torch.testing.assert_close(t.kl_per_dim.sum(-1), t.kl)


# -- ELBO against log p(x) ---------------------------------------------------------------------------
def test_reference_identities_hold() -> None:
    """The harness itself: closed-form ELBO + KL(q || exact posterior) = log p(x), to rounding."""
    for orthogonal in (True, False):
        model, x = linear_model(orthogonal)
        for shift, widen in ((0.0, 1.0), (0.5, 0.7)):
            model.shift, model.widen = shift, widen
            q = model.encode(x)
            gap = kl_divergence(MultivariateNormal(q.mean, torch.diag_embed(q.variance)), model.exact_posterior(x))
            torch.testing.assert_close(model.closed_form_elbo(x) + gap, model.exact_log_px(x), rtol=0, atol=1e-10)


def test_exact_posterior_makes_every_bound_tight() -> None:
    model, x = linear_model(orthogonal=True)
    log_px = model.exact_log_px(x)
    torch.testing.assert_close(model.closed_form_elbo(x), log_px, rtol=0, atol=1e-10)
    # With q = p(z|x), log p(x, z) - log q(z|x) = log p(x) for every z: SGVB A and IWAE are exact with
    # one draw, whatever the draw.
    torch.testing.assert_close(objective(model, x, estimator="mc", generator=gen()).bound, log_px, rtol=0, atol=1e-9)
    torch.testing.assert_close(objective(model, x, iwae_k=7, generator=gen()).bound, log_px, rtol=0, atol=1e-9)
    # SGVB B only samples the reconstruction term: unbiased for log p(x), within Monte Carlo error.
    r = 5000
    t = objective(model, repeat(x, r), estimator="analytic", generator=gen(3))
    m, se = mean_and_se(t.bound, len(x))
    assert ((m - log_px).abs() < 4 * se).all(), (m, log_px, se)


@pytest.mark.parametrize("orthogonal", [True, False], ids=["diag-posterior", "full-posterior"])
def test_elbo_estimators_are_below_log_px_by_the_posterior_kl(orthogonal: bool) -> None:
    model, x = linear_model(orthogonal)
    model.shift, model.widen = 0.4, 1.3
    log_px, exact_elbo = model.exact_log_px(x), model.closed_form_elbo(x)
    assert (exact_elbo < log_px - 0.05).all()
    r = 20000
    for estimator in ("analytic", "mc"):
        t = objective(model, repeat(x, r), estimator=estimator, generator=gen(4))
        m, se = mean_and_se(t.bound, len(x))
        assert ((m - exact_elbo).abs() < 4 * se).all(), (estimator, m, exact_elbo, se)
        assert (m + 4 * se < log_px).all()
    # samples=L averages L draws per example: same expectation, smaller spread.
    t1 = objective(model, repeat(x, 2000), estimator="mc", samples=1, generator=gen(5))
    t10 = objective(model, repeat(x, 2000), estimator="mc", samples=10, generator=gen(5))
    m10, se10 = mean_and_se(t10.bound, len(x))
    assert ((m10 - exact_elbo).abs() < 4 * se10).all()
    assert (mean_and_se(t10.bound, len(x))[1] < mean_and_se(t1.bound, len(x))[1]).all()


def test_diagonal_q_cannot_reach_a_correlated_posterior() -> None:
    # Non-orthogonal W: p(z|x) has correlations a diagonal q cannot express, so even the exact posterior's
    # diagonal leaves a strictly positive gap.
    model, x = linear_model(orthogonal=False)
    assert (model.closed_form_elbo(x) < model.exact_log_px(x) - 1e-3).all()


def test_iwae_bound_increases_with_k_towards_log_px() -> None:
    """Burda et al. (2016), theorem 1: log p(x) >= L_k+1 >= L_k >= L_1 = ELBO."""
    model, x = linear_model(orthogonal=False)
    model.shift, model.widen = 0.3, 1.5  # a poor q: an ELBO gap of about 5 nats
    log_px, elbo = model.exact_log_px(x), model.closed_form_elbo(x)
    assert (log_px - elbo > 3).all()
    r = 2000
    means, ses = [], []
    for k in (1, 2, 10, 50):
        t = objective(model, repeat(x, r), iwae_k=k, generator=gen(k))
        m, se = mean_and_se(t.bound, len(x))
        means.append(m)
        ses.append(se)
    assert ((means[0] - elbo).abs() < 4 * ses[0]).all()  # L_1 is the ELBO
    for (m_lo, se_lo), (m_hi, se_hi) in zip(zip(means, ses), zip(means[1:], ses[1:])):
        assert (m_hi - m_lo > 2 * (se_lo + se_hi)).all()
    assert (means[-1] + 4 * ses[-1] < log_px).all()
    assert (log_px - means[-1] < 0.1 * (log_px - elbo)).all()  # k = 50 closes most of the gap


def test_iwae_bound_by_hand() -> None:
    model, x = linear_model(orthogonal=False)
    model.shift = 0.3
    k = 5
    t = objective(model, x, iwae_k=k, generator=gen(9))
    z = reparameterized_sample(model.encode(x), k, gen(9))  # the same draws
    log_w = model.decode(z).log_prob(x) + model.prior.log_prob(z) - model.encode(x).log_prob(z)
    torch.testing.assert_close(t.bound, torch.logsumexp(log_w, 0) - math.log(k))  # Burda et al. eq. 8
    torch.testing.assert_close(t.loss, -t.bound.mean())
    assert bound_name(k) == "IWAE bound (k = 5)" and bound_name(1) == "ELBO"  # what Terms.bound holds


def test_sgvb_estimators_by_hand() -> None:
    model, x = linear_model(orthogonal=False)
    model.shift = 0.3
    L = 4
    z = reparameterized_sample(model.encode(x), L, gen(8))
    q = model.encode(x)
    recon = model.decode(z).log_prob(x).mean(0)
    a = objective(model, x, estimator="mc", samples=L, generator=gen(8))
    # SGVB A (K&W eq. 6): 1/L sum_l log p(x, z_l) - log q(z_l|x)
    torch.testing.assert_close(a.bound, (model.decode(z).log_prob(x) + model.prior.log_prob(z) - q.log_prob(z)).mean(0))
    b = objective(model, x, estimator="analytic", samples=L, generator=gen(8))
    # SGVB B (K&W eq. 7): -KL(q || p) + 1/L sum_l log p(x|z_l)
    torch.testing.assert_close(b.bound, recon - kl_divergence(q, model.prior))
    torch.testing.assert_close(b.recon, recon)
    torch.testing.assert_close(a.recon, recon)


# -- beta, warm-up, autoencoders, plumbing -----------------------------------------------------------
@pytest.mark.parametrize("estimator", ["analytic", "mc"])
def test_beta_weights_the_kl_in_the_loss_only(estimator: str) -> None:
    model, x = linear_model(orthogonal=False)
    t1 = objective(model, x, estimator=estimator, beta=1.0, generator=gen(6))
    tb = objective(model, x, estimator=estimator, beta=0.25, generator=gen(6))
    for name in ("bound", "recon", "kl", "kl_per_dim"):
        assert torch.equal(getattr(t1, name), getattr(tb, name))
    torch.testing.assert_close(t1.loss, -(t1.recon - t1.kl).mean())
    torch.testing.assert_close(tb.loss, -(tb.recon - 0.25 * tb.kl).mean())
    torch.testing.assert_close(t1.loss, -t1.bound.mean())


def test_beta_with_iwae_keeps_the_true_bound_as_elbo() -> None:
    model, x = linear_model(orthogonal=False)
    t1 = objective(model, x, iwae_k=4, beta=1.0, generator=gen(7))
    tb = objective(model, x, iwae_k=4, beta=0.5, generator=gen(7))
    torch.testing.assert_close(tb.bound, t1.bound)
    assert not torch.allclose(tb.loss, t1.loss)


def test_warmup_schedule() -> None:
    assert [warmup_beta(2.0, s, 10) for s in (0, 1, 5, 10, 11, 1000)] == [0.0, 0.2, 1.0, 2.0, 2.0, 2.0]
    assert warmup_beta(0.5, 0, 0) == 0.5 and warmup_beta(0.5, 3, -1) == 0.5


@pytest.mark.parametrize("kind", ["ae", "dae"])
def test_autoencoders_have_zero_kl(kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=D, kind=kind, hidden=(16,)))
    x = torch.rand(5, 1, 8, 8, generator=gen()).bernoulli(generator=gen(1))
    noisy = mask(x, model.corruption, gen(2))
    t = objective(model, noisy, x)
    assert torch.equal(t.kl, torch.zeros(5)) and torch.equal(t.kl_per_dim, torch.zeros(5, D))
    expected = model.decode(model.encode(noisy).mean).log_prob(x)  # the clean image is the target
    torch.testing.assert_close(t.recon, expected)
    torch.testing.assert_close(t.bound, expected)
    torch.testing.assert_close(t.loss, -expected.mean())


def test_vae_kl_gradient_is_the_closed_form_one() -> None:
    # d KL / d mu = mu and d KL / d sigma = sigma - 1/sigma for q = N(mu, sigma^2), p = N(0, 1)
    mu = torch.tensor([[0.3, -1.2]], requires_grad=True)
    log_sigma = torch.tensor([[0.1, -0.4]], requires_grad=True)

    class Tiny:
        prior = diagonal_normal(torch.zeros(2), torch.ones(2))

        def encode(self, x):
            return diagonal_normal(mu, log_sigma.exp())

        def decode(self, z):
            return diagonal_normal(torch.zeros_like(z), torch.ones_like(z))

    kl = objective(Tiny(), torch.zeros(1, 2), generator=gen()).kl.sum()
    g_mu, g_ls = torch.autograd.grad(kl, [mu, log_sigma])
    s = log_sigma.detach().exp()
    torch.testing.assert_close(g_mu, mu.detach())
    torch.testing.assert_close(g_ls, (s - 1 / s) * s)


def test_reparameterised_sample_uses_the_generator() -> None:
    q = diagonal_normal(torch.randn(3, D), torch.rand(3, D) + 0.1)
    z = reparameterized_sample(q, 4, gen(3))
    eps = torch.randn(4, 3, D, generator=gen(3))
    torch.testing.assert_close(z, q.mean + q.stddev * eps)
    assert torch.equal(z, reparameterized_sample(q, 4, gen(3)))
    assert reparameterized_sample(q, 2).shape == (2, 3, D)  # global RNG without one


@pytest.mark.parametrize("kwargs", [dict(estimator="exact"), dict(samples=0), dict(iwae_k=0),
                                    dict(samples=2, iwae_k=2)])
def test_objective_rejects_bad_arguments(kwargs: dict) -> None:
    model, x = linear_model(orthogonal=True)
    with pytest.raises(ValueError):
        objective(model, x, **kwargs)
