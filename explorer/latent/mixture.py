"""Codes to decode into new images: draws from the prior p(z) = N(0, I), and from a Gaussian mixture
fitted to draws z ~ q(z|x) of the encoded data, a density for the aggregate posterior q(z) = E_x q(z|x)
(Makhzani et al. 2016); for an AE, which has no prior, this ex-post density is the way to generate (Ghosh
et al. 2020). Fitted to the posterior means alone it would miss E_x[sigma^2(x)] of q(z)'s covariance."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

DRAWS_PER_IMAGE = 4  # z ~ q(z|x) per image for the mixture's fit

if TYPE_CHECKING:  # scikit-learn is imported when a mixture is fitted, not when the app starts
    from sklearn.mixture import GaussianMixture


def sample_prior(latent_dim: int, n: int, seed: int) -> torch.Tensor:
    """n draws from p(z) = N(0, I): (n, D), reproducible from the seed."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def fit_mixture(mean: np.ndarray, n_components: int = 10, seed: int = 0, max_points: int = 5000, *,
                std: np.ndarray | None = None, draws: int = DRAWS_PER_IMAGE) -> GaussianMixture:
    """A Gaussian mixture (full covariances) fitted to the aggregate posterior q(z) = E_x q(z|x): to `draws`
    seeded draws z = mean + std * eps from each image's diagonal Gaussian q(z|x), (N, D) each; without std
    (an AE's point mass) to the codes themselves. Fitted on at most max_points of them (a seeded subset): as
    good a density for sampling, and EM stays within a second or two.

    EM runs with one BLAS thread: its matrices are small (5000 x D), and OpenBLAS threads spin-wait at
    every call, so with a core taken by another job (a training) the fit of 10 components to mnist_vae50's
    codes took 21 s with two threads and 0.5 s with one. (OpenBLAS's count is process-wide; it is put back
    after the fit.)"""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    z = _posterior_draws(mean, std, draws, seed)
    if len(z) > max_points:
        z = z[np.random.default_rng(seed).choice(len(z), max_points, replace=False)]
    n_components = max(1, min(n_components, len(z)))
    with threadpool_limits(limits=1, user_api="blas"):
        return GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=1e-4,
                               random_state=seed).fit(z)


def _posterior_draws(mean: np.ndarray, std: np.ndarray | None, draws: int, seed: int) -> np.ndarray:
    """`draws` z ~ N(mean, diag std^2) per row, float64 (N * draws, D); the means themselves without std."""
    mean = np.asarray(mean, np.float64)
    if std is None or not np.any(std):
        return mean
    eps = np.random.default_rng([seed, 1]).standard_normal((len(mean), draws, mean.shape[1]))
    return (mean[:, None] + np.asarray(std, np.float64)[:, None] * eps).reshape(-1, mean.shape[1])


def sample_mixture(gmm: GaussianMixture, n: int, seed: int) -> torch.Tensor:
    """n draws from a fitted GaussianMixture, reproducible from the seed: (n, D).

    Drawn here rather than with gmm.sample(), which reads the estimator's own random_state: the
    fitted mixture is shared between users and must stay read-only.
    """
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(gmm.weights_), size=n, p=gmm.weights_ / gmm.weights_.sum())
    chol = np.linalg.cholesky(gmm.covariances_)  # (K, D, D)
    eps = rng.standard_normal((n, gmm.means_.shape[1]))
    z = gmm.means_[comp] + np.einsum("nij,nj->ni", chol[comp], eps)
    return torch.from_numpy(z.astype(np.float32))
