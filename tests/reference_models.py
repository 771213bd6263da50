"""Reference models whose answers are known in closed form, shared by the tests.

The linear Gaussian model p(z) = N(0, I), p(x|z) = N(Wz + b, sigma^2 I) has the evidence
log p(x) = log N(x; b, W W^T + sigma^2 I) and the posterior p(z|x) = N(S W^T (x - b) / sigma^2, S),
S = (I + W^T W / sigma^2)^-1 (Bishop 2006, eqs. 2.113-2.117). For any q, log p(x) - ELBO(q) =
KL(q || p(z|x)) (Kingma & Welling 2014, eq. 2), so every bound and estimator can be checked against it.
"""
from __future__ import annotations

import math

import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence


class LinearGaussian:
    """The linear Gaussian model with an encoder: any object with encode / decode / prior works with the
    objectives and the evaluation code. Not an nn.Module on purpose.

    The encoder q(z|x) is the diagonal part of the exact posterior (the exact posterior itself when W has
    orthogonal columns, as from `orthogonal`), deliberately moved by `shift` and widened by `widen`, or
    the prior N(0, I) when `ignore_x`. Parameters are float64; results are in `dtype`. x is (N, P), or
    (N, 1, 1, P) when `image` (a one-row picture, as a model of images takes it).
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, sigma: float, *, image: bool = False,
                 dtype: torch.dtype = torch.float64):
        self.W, self.b, self.sigma = W.double(), b.double(), sigma
        self.image, self.dtype = image, dtype
        self.shift, self.widen, self.ignore_x = 0.0, 1.0, False
        D = W.shape[1]
        self.prior = Independent(Normal(torch.zeros(D, dtype=dtype), torch.ones(D, dtype=dtype)), 1)

    @classmethod
    def orthogonal(cls, scales=(2.0, 1.5, 1.0), pixels: int = 8, sigma: float = 0.5, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> LinearGaussian:
        """W = Q diag(scales) with orthonormal Q: W^T W is diagonal, so the exact posterior is a diagonal
        Gaussian and the encoder can equal it. x are one-row images (N, 1, 1, pixels)."""
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(pixels, len(scales), generator=g, dtype=torch.float64))
        b = 0.3 * torch.randn(pixels, generator=g, dtype=torch.float64)
        return cls(q * torch.tensor(scales, dtype=torch.float64), b, sigma, image=True, dtype=dtype)

    @property
    def S(self) -> torch.Tensor:
        """The exact posterior covariance (D, D), read from W on every call so a test may edit W."""
        D = self.W.shape[1]
        return torch.linalg.inv(torch.eye(D, dtype=torch.float64) + self.W.T @ self.W / self.sigma ** 2)

    @property
    def post_var(self) -> torch.Tensor:
        """The exact posterior's marginal variances (D,)."""
        return self.S.diagonal()

    def sample_x(self, n: int, seed: int = 1) -> torch.Tensor:
        """n draws x = Wz + b + sigma eps from the model."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.W.shape[1], generator=g, dtype=torch.float64)
        x = z @ self.W.T + self.b + self.sigma * torch.randn(n, len(self.b), generator=g, dtype=torch.float64)
        return self._shape(x.to(self.dtype))

    def posterior_mean(self, x: torch.Tensor) -> torch.Tensor:
        """S W^T (x - b) / sigma^2 for each row (S = S^T), float64 (N, D)."""
        return (x.double().flatten(1) - self.b) @ self.W @ self.S / self.sigma ** 2

    def exact_posterior(self, x: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.posterior_mean(x), self.S)

    def exact_log_px(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = log N(x; b, W W^T + sigma^2 I), (N,)."""
        cov = self.W @ self.W.T + self.sigma ** 2 * torch.eye(len(self.b), dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x.double().flatten(1)).to(self.dtype)

    def encode(self, x: torch.Tensor) -> Independent:
        mu = self.posterior_mean(x)
        scale = self.post_var.sqrt().expand_as(mu)
        if self.ignore_x:
            mu, scale = torch.zeros_like(mu), torch.ones_like(mu)
        return Independent(Normal((mu + self.shift).to(self.dtype), (self.widen * scale).to(self.dtype)), 1)

    def decode(self, z: torch.Tensor) -> Independent:
        """p(x|z) for z of shape (..., D)."""
        mean = self._shape((z.double() @ self.W.T + self.b).to(self.dtype))
        return Independent(Normal(mean, torch.full_like(mean, self.sigma)), 3 if self.image else 1)

    def closed_form_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[log p(x|z)] - KL(q || p(z)) with no sampling: for q = N(m, diag s^2),
        E_q ||x - Wz - b||^2 = ||x - Wm - b||^2 + tr(W diag(s^2) W^T)."""
        q = self.encode(x)
        m, var = q.mean.double(), q.variance.double()
        xf = x.double().flatten(1)
        resid = ((xf - m @ self.W.T - self.b) ** 2).sum(-1) + (var @ (self.W ** 2).sum(0))
        recon = -0.5 * len(self.b) * math.log(2 * math.pi * self.sigma ** 2) - resid / (2 * self.sigma ** 2)
        return (recon - kl_divergence(q, self.prior).double()).to(self.dtype)

    def _shape(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], 1, 1, x.shape[-1]) if self.image else x


def binarize(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The tests' own oracle for the binarization rule: one Bernoulli draw per pixel from a generator seeded
    with seed, on the CPU (Salakhutdinov & Murray 2008), written out apart from explorer.data.pixels."""
    return torch.bernoulli(x.cpu(), generator=torch.Generator().manual_seed(seed))
