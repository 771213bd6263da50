"""Prior and aggregate-posterior samples against the moments of the distributions they draw from."""
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from explorer.latent.mixture import fit_mixture, sample_mixture, sample_prior


def test_prior_samples_are_reproducible_standard_normal_draws():
    torch.testing.assert_close(sample_prior(3, 5, seed=1), sample_prior(3, 5, seed=1))
    assert not torch.equal(sample_prior(3, 5, seed=1), sample_prior(3, 5, seed=2))
    z = sample_prior(3, 100_000, seed=0).double().numpy()
    assert z.shape == (100_000, 3)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.015)  # standard error 0.003
    np.testing.assert_allclose(np.cov(z.T), np.eye(3), atol=0.02)


def test_mixture_draws_have_the_mixtures_mean_and_covariance():
    # 0.3 N((-2, 0), [[1, .5], [.5, 2]]) + 0.7 N((1, 3), diag(.5, .25)); the weights need not sum to 1
    gmm = SimpleNamespace(weights_=np.array([0.6, 1.4]), means_=np.array([[-2.0, 0.0], [1.0, 3.0]]),
                          covariances_=np.array([[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.25]]]))
    # mean = sum_k w_k mu_k; covariance = sum_k w_k (Sigma_k + mu_k mu_k^T) - mean mean^T
    mean = np.array([0.1, 2.1])
    cov = np.array([[2.55, 2.25], [2.25, 7.075]]) - np.outer(mean, mean)  # [[2.54, 2.04], [2.04, 2.665]]
    z = sample_mixture(gmm, 200_000, seed=3)
    assert z.shape == (200_000, 2) and z.dtype == torch.float32
    torch.testing.assert_close(z[:10], sample_mixture(gmm, 200_000, seed=3)[:10])  # reproducible
    z = z.double().numpy()
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)  # standard errors about 0.004
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.05)
    # P(z2 > 1.5) = 0.3 P(N(0, 2) > 1.5) + 0.7 P(N(3, 0.25) > 1.5): the components drawn in their proportions
    share = 0.3 * (1 - NormalDist(0, np.sqrt(2)).cdf(1.5)) + 0.7 * (1 - NormalDist(3, 0.5).cdf(1.5))
    assert abs(np.mean(z[:, 1] > 1.5) - share) < 0.005  # standard error 0.001


def test_one_component_is_the_sample_mean_and_covariance():
    # EM with one component: every responsibility is 1, so the fit is the data's mean and (biased) covariance
    # plus reg_covar on the diagonal
    data = np.random.default_rng(0).multivariate_normal([2.0, -1.0], [[1.0, 0.8], [0.8, 1.0]], size=1000)
    gmm = fit_mixture(data, n_components=1)
    np.testing.assert_allclose(gmm.means_[0], data.mean(0), atol=1e-10)
    np.testing.assert_allclose(gmm.covariances_[0], np.cov(data.T, bias=True) + 1e-4 * np.eye(2), atol=1e-10)
    sub = fit_mixture(np.concatenate([data, data + 0.01]), n_components=1, max_points=1500)  # a seeded subset
    np.testing.assert_allclose(sub.means_[0], data.mean(0) + 0.005, atol=0.1)
    assert fit_mixture(data[:3], n_components=10).n_components == 3  # never more components than points


def test_mixture_fits_with_one_blas_thread(monkeypatch):
    """21 s -> 0.5 s for mnist_vae50's codes on a 2-core machine with a training on the other core."""
    from sklearn.mixture import GaussianMixture

    seen, real = [], GaussianMixture.fit

    def fit(self, X, y=None):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return real(self, X, y)

    monkeypatch.setattr(GaussianMixture, "fit", fit)
    data = np.random.default_rng(0).standard_normal((300, 3))
    with threadpool_limits(limits=2, user_api="blas"):
        fit_mixture(data, n_components=2)
        after = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen == [{1}] and after == {2}


def test_the_mixture_fits_the_aggregate_posterior_not_the_means():
    """q(z) = E_x q(z|x) has covariance Cov_x(mu) + E_x[diag sigma^2(x)] (law of total variance); for the
    linear-Gaussian model with its exact posterior that is the prior's I. The means alone miss E[sigma^2]."""
    from tests.reference_models import LinearGaussian
    lg = LinearGaussian.orthogonal(dtype=torch.float64)  # posterior variances 1/17, 1/10, 1/5
    q = lg.encode(lg.sample_x(5000))
    mean, std = q.mean.numpy(), q.stddev.numpy()
    gmm = fit_mixture(mean, n_components=1, std=std, max_points=20_000)
    total = np.cov(mean.T, bias=True) + np.diag((std ** 2).mean(0))
    np.testing.assert_allclose(gmm.covariances_[0], total, atol=0.01)
    np.testing.assert_allclose(gmm.covariances_[0], np.eye(3), atol=0.06)
    assert gmm.covariances_[0][2, 2] - np.cov(mean.T)[2, 2] > 0.15  # E[sigma_3^2] = 0.2, not missed
    again = fit_mixture(mean, n_components=1, std=std, max_points=20_000)
    np.testing.assert_array_equal(again.covariances_, gmm.covariances_)  # seeded draws
