"""The ELBO helpers the pages show, against closed forms (Kingma & Welling 2014, appendix B)."""
import math

import numpy as np
import pytest
import torch

from explorer.evaluation import bound_terms, mean_kl_per_dim, posterior_draws
from explorer.model.config import ModelConfig
from explorer.model.encoding import Encoding
from explorer.model.latent_model import build_model

MU, SIGMA = [1.0, 0.0], [1.0, 0.5]
# KL(N(m, s^2) || N(0, 1)) = -1/2 (1 + log s^2 - m^2 - s^2): 1/2 for (1, 1), 0.3181... for (0, 1/2)
KL = sum(-0.5 * (1 + math.log(s * s) - m * m - s * s) for m, s in zip(MU, SIGMA))


def constant_model(kind: str = "vae", logit: float = 0.0) -> torch.nn.Module:
    """All weights zero: q(z|x) = N(MU, diag SIGMA^2) (an AE's code: MU) for every x, and p(x|z) Bernoulli with
    the same logit on every pixel for every z, so each term of the bound has a closed form."""
    m = build_model(ModelConfig(image_shape=(1, 3, 4), latent_dim=2, kind=kind, hidden=(4,))).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        enc_bias = MU + [2 * math.log(s) for s in SIGMA] if kind == "vae" else MU  # (mu, log sigma^2)
        m.encoder.net[-1].bias.copy_(torch.tensor(enc_bias))
        m.decoder.net[-1].bias.fill_(logit)
    return m


def test_mean_kl_per_dim_is_the_closed_form_averaged_over_the_data():
    mean = np.array([[0.0, 1.0, 0.5], [2.0, 1.0, -0.5]])
    std = np.array([[1.0, 1.0, 2.0], [1.0, 0.5, 0.5]])
    kl = mean_kl_per_dim(Encoding(mean, std))
    closed = -0.5 * (1 + np.log(std ** 2) - mean ** 2 - std ** 2)  # (2, 3)
    np.testing.assert_allclose(kl, closed.mean(0), rtol=1e-12)
    np.testing.assert_allclose(kl[0], 1.0, rtol=1e-12)  # 0 at the prior, 2 for m = 2: their mean
    assert (mean_kl_per_dim(Encoding(mean, 0 * std)) == 0).all()  # an AE has no KL


def test_bound_terms_of_a_model_with_known_terms():
    x = torch.zeros(1, 1, 3, 4)
    x[0, 0, 0] = 1.0  # 4 pixels on, 8 off
    t = bound_terms(constant_model("vae", logit=math.log(3)), x, samples=8)  # p(pixel on) = 3/4
    recon = 4 * math.log(0.75) + 8 * math.log(0.25)  # p(x|z) does not depend on z: exact for any sample count
    assert t["recon"] == pytest.approx(recon, rel=1e-5)
    assert t["kl"] == pytest.approx(KL, rel=1e-5)
    assert t["elbo"] == pytest.approx(recon - KL, rel=1e-5)
    assert t["elbo_se"] == pytest.approx(0.0, abs=1e-5)  # every draw scores the same: no Monte Carlo error
    a = bound_terms(constant_model("ae"), x)  # an AE: log p(x|z) at its code, no KL
    assert a == pytest.approx({"recon": -12 * math.log(2), "kl": 0.0, "elbo": -12 * math.log(2), "elbo_se": 0.0},
                              rel=1e-6)


def test_bound_terms_are_seeded_and_add_up():
    torch.manual_seed(0)
    m = build_model(ModelConfig(image_shape=(1, 6, 6), latent_dim=3, hidden=(8,))).eval()
    x = torch.bernoulli(torch.rand(1, 1, 6, 6))
    t = bound_terms(m, x, samples=8)
    assert t["elbo"] == pytest.approx(t["recon"] - t["kl"], abs=1e-4) and t["kl"] > 0
    assert t["elbo_se"] > 0 and math.isnan(bound_terms(m, x, samples=1)["elbo_se"])  # one draw: no spread
    state = torch.random.get_rng_state()
    assert bound_terms(m, x, samples=8) == t  # seeded: the same on every rerun
    assert torch.equal(torch.random.get_rng_state(), state)  # without touching the global stream
    assert bound_terms(m, x, samples=8, seed=1) != t


def test_posterior_draws_come_from_the_known_posterior():
    m = constant_model("vae")
    x = torch.rand(1, 1, 3, 4)
    z = posterior_draws(m, x, 20_000, seed=0)
    assert z.shape == (20_000, 2)
    np.testing.assert_allclose(z.mean(0).numpy(), MU, atol=0.03)  # standard errors 0.007, 0.004
    np.testing.assert_allclose(z.std(0).numpy(), SIGMA, rtol=0.03)
    assert torch.equal(posterior_draws(m, x, 20_000, seed=0), z)  # reproducible from the seed
