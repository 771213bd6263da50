"""Codes to decode into new images: draws from the prior p(z) = N(0, I), and from a Gaussian mixture
fitted to the encoded data, a density for the aggregate posterior q(z) = E_x q(z|x) (Makhzani et al.
2016); for an AE, which has no prior, this ex-post density is the way to generate (Ghosh et al. 2020)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # scikit-learn is imported when a mixture is fitted, not when the app starts
    from sklearn.mixture import GaussianMixture


def sample_prior(latent_dim: int, n: int, seed: int) -> torch.Tensor:
    """n draws from p(z) = N(0, I): (n, D), reproducible from the seed."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def fit_mixture(mean: np.ndarray, n_components: int = 10, seed: int = 0,
                max_points: int = 5000) -> GaussianMixture:
    """A Gaussian mixture (full covariances) fitted to the encoded means: an "aggregate posterior" prior
    to sample from. Fitted on at most max_points codes (a seeded subset): as good a density for sampling,
    and EM stays within a second or two.

    EM runs with one BLAS thread: its matrices are small (5000 x D), and OpenBLAS threads spin-wait at
    every call, so with a core taken by another job (a training) the fit of 10 components to mnist_vae50's
    codes took 21 s with two threads and 0.5 s with one. (OpenBLAS's count is process-wide; it is put back
    after the fit.)"""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    if len(mean) > max_points:
        mean = mean[np.random.default_rng(seed).choice(len(mean), max_points, replace=False)]
    n_components = max(1, min(n_components, len(mean)))
    with threadpool_limits(limits=1, user_api="blas"):
        return GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=1e-4,
                               random_state=seed).fit(mean.astype(np.float64))


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
