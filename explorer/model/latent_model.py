"""The latent-variable model: VAE (Kingma & Welling 2014), plain AE and denoising AE, one class.

encode(x) -> distribution over z, event shape (latent_dim,)
decode(z) -> distribution over x, event shape (C, H, W); log_prob is in nats with every constant.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F
from torch.distributions import Distribution, Independent

from ..data.pixels import LEVELS
from ..data.units import dequantization_offset
from .config import IMPORTED, ModelConfig
from .distributions import Dequantized, PointMass, bernoulli_image, diagonal_normal
from .nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder

MIN_DECODER_SCALE = 1e-2  # a learned pixel variance may not collapse to zero (infinite density)


class LatentModel(nn.Module):
    def __init__(self, config: ModelConfig, pixels: str | None = None, levels: int = LEVELS):
        super().__init__()
        if config.arch == IMPORTED:
            raise ValueError("an imported model's networks come from its file: load it with explorer.load_model")
        self.config = config
        # The data the decoder explains (explorer.data.pixels): on "dequantized" pixels its log_prob is a
        # bound on the log-probability of the image's `levels` grey levels. Set from the checkpoint's DatasetRef.
        self.pixels, self.levels = pixels, levels if pixels == "dequantized" else LEVELS  # only they use it
        c = config
        enc_out = 2 * c.latent_dim if c.kind == "vae" else c.latent_dim
        dec_channels = c.image_shape[0] * (2 if c.likelihood == "gaussian_learned" else 1)
        if c.arch == "mlp":
            self.encoder = MLPEncoder(c.image_shape, c.hidden, c.activation, enc_out)
            self.decoder = MLPDecoder(c.image_shape, c.hidden, c.activation, c.latent_dim, dec_channels)
        else:
            self.encoder = ConvEncoder(c.image_shape, c.hidden, c.activation, enc_out)
            self.decoder = ConvDecoder(c.image_shape, c.hidden, c.activation, c.latent_dim, dec_channels,
                                       self.encoder.feat_shape)
        self.register_buffer("prior_loc", torch.zeros(c.latent_dim), persistent=False)
        self.register_buffer("prior_scale", torch.ones(c.latent_dim), persistent=False)
        self.metadata: dict = {}  # filled by load_model: dataset, history, metrics

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def is_variational(self) -> bool:
        return self.config.kind == "vae"

    @property
    def prior(self) -> Independent:
        """p(z) = N(0, I)."""
        return diagonal_normal(self.prior_loc, self.prior_scale)

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) = N(mu, diag sigma^2) for a VAE; a point mass at the code for AE / DAE."""
        h = self.encoder(x)  # (N, enc_out)
        if not self.is_variational:
            return PointMass(h)
        mu, logvar = h.chunk(2, dim=-1)
        return diagonal_normal(mu, torch.exp(0.5 * logvar))

    def decode(self, z: torch.Tensor) -> Independent:
        """p(x|z) for z of shape (..., latent_dim); leading dims are kept."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, self.latent_dim))
        out = out.view(*lead, *out.shape[1:])
        lik = self.config.likelihood
        if lik == "bernoulli":
            return bernoulli_image(out)
        if lik == "gaussian":
            mean = torch.sigmoid(out)
            p = diagonal_normal(mean, torch.full_like(mean, self.config.sigma), event_dims=3)
        else:
            mean_raw, scale_raw = out.chunk(2, dim=-3)
            p = diagonal_normal(torch.sigmoid(mean_raw), MIN_DECODER_SCALE + F.softplus(scale_raw), event_dims=3)
        if self.pixels == "dequantized":
            return Dequantized(p, dequantization_offset(math.prod(self.config.image_shape), self.levels))
        return p

    @property
    def corruption(self) -> float:
        """The DAE's masking probability (Vincent et al. 2008); 0 for a VAE or plain AE."""
        return self.config.noise if self.config.kind == "dae" else 0.0

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z = E_q[z]), the picture a person calls "the reconstruction"."""
        return self.decode(self.encode(x).mean).mean

    @torch.no_grad()
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z).mean

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def describe(self) -> str:
        c = self.config
        arch = f"{c.arch.upper()} {'-'.join(str(h) for h in c.hidden)}"
        shape = "x".join(str(s) for s in c.image_shape)
        return (f"{c.kind.upper()} · {arch} · {c.activation} · latent {c.latent_dim} · {c.likelihood} "
                f"decoder · input {shape} · {self.num_parameters():,} parameters")


def build_model(config: ModelConfig | dict, pixels: str | None = None, levels: int = LEVELS) -> LatentModel:
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    return LatentModel(config, pixels, levels)
