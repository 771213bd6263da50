"""A VAE trained elsewhere, as an explorer model: its encoder and decoder (torch modules, or ONNX graphs run by
onnxruntime) and the names that say what their outputs mean (explorer.model.conventions). Everything that
takes a LatentModel takes one: encode -> q(z|x), decode -> p(x|z), the prior N(0, I)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.distributions import Distribution

from ..data.pixels import LEVELS
from ..data.units import dequantization_offset
from .config import IMPORTED, ModelConfig
from .conventions import (LAYOUTS, NATIVE_LIKELIHOOD, ConventionError, check_decoder_outputs, check_names,
                          encoder_parts, observation, posterior)
from .distributions import Dequantized
from .latent_model import LatentModel
from .onnx_checks import GraphError
from .onnx_net import OnnxNet


@dataclass(frozen=True)
class ImportCard:
    """Numbers and names only: how to read the two networks. layout: how the networks hold images (nchw,
    nhwc, or flat rows of C*H*W)."""

    image_shape: tuple[int, int, int]
    latent_dim: int
    encoder_output: str
    likelihood: str
    sigma: float | None = None
    layout: str = "nchw"
    source: str = "torch"  # torch | onnx: where the networks came from

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "latent_dim", int(self.latent_dim))
        if self.sigma is not None:
            object.__setattr__(self, "sigma", float(self.sigma))
        check_names(self.encoder_output, self.likelihood, self.sigma)
        if self.layout not in LAYOUTS:
            raise ConventionError(f"layout must be one of {', '.join(LAYOUTS)}; got {self.layout!r}")
        if self.layout == "nhw" and self.image_shape[0] != 1:
            raise ConventionError("layout 'nhw' has no channel axis, so it holds grey images (C = 1) only")

    def config(self) -> ModelConfig:
        """The model config the pages read (kind, likelihood, shapes)."""
        return ModelConfig(self.image_shape, self.latent_dim, "ae" if self.encoder_output == "point" else "vae",
                           IMPORTED, (), "relu", NATIVE_LIKELIHOOD[self.likelihood], self.sigma or 0.1,
                           extra={"imported": self.to_dict()})

    def to_dict(self) -> dict:
        return {**asdict(self), "image_shape": list(self.image_shape)}


class ImportedModel(LatentModel):
    """encoder(images) -> raw outputs, decoder(codes) -> raw outputs, read through the card's conventions."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, card: ImportCard, pixels: str = "grey",
                 levels: int = LEVELS):
        nn.Module.__init__(self)
        self.card, self.config = card, card.config()
        self.encoder, self.decoder = encoder, decoder
        self.pixels, self.levels = pixels, levels if pixels == "dequantized" else LEVELS
        # a device anchor: an ONNX-backed model has no parameters of its own, but callers ask one for its device
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)
        self.register_buffer("prior_loc", torch.zeros(card.latent_dim), persistent=False)
        self.register_buffer("prior_scale", torch.ones(card.latent_dim), persistent=False)
        self.metadata: dict = {}

    @staticmethod
    def _outputs(out) -> list[torch.Tensor]:
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _images_in(self, x: torch.Tensor) -> torch.Tensor:
        if self.card.layout == "nhwc":
            return x.permute(0, 2, 3, 1)
        if self.card.layout == "nhw":
            return x[:, 0]
        return x.reshape(len(x), -1) if self.card.layout == "flat" else x

    def _images_out(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """The decoder's output as (N, k*C, H, W): k = 2 for a mean and a log-variance (one tensor or two)."""
        c, h, w = self.card.image_shape
        k = 2 if self.card.likelihood == "gaussian_mean_logvar" else 1
        outs, n = outs[:k] if len(outs) >= k else outs[:1], len(outs[0])
        if n == 0:
            return outs[0].new_zeros(0, k * c, h, w)
        try:
            parts = [(o.permute(0, 3, 1, 2) if self.card.layout == "nhwc" and o.dim() == 4 else o).reshape(n, -1, h, w)
                     for o in outs]
            out = torch.cat(parts, dim=1)
        except RuntimeError:
            out = None
        if out is None or out.shape[1] != k * c:
            have = sum(o[0].numel() for o in outs)
            raise ConventionError(f"the decoder gives {have} numbers per image, but image_shape "
                                  f"{self.card.image_shape} with likelihood={self.card.likelihood!r} needs "
                                  f"{k * c * h * w}: check image_shape and likelihood")
        return out

    def encode(self, x: torch.Tensor) -> Distribution:
        return posterior(self._outputs(self.encoder(self._images_in(x))), self.card.encoder_output,
                         self.latent_dim)

    def decode(self, z: torch.Tensor):
        lead = z.shape[:-1]
        out = self._images_out(self._outputs(self.decoder(z.reshape(-1, self.latent_dim))))
        out = out.view(*lead, *out.shape[1:])
        p = observation(out, self.card.likelihood, self.card.sigma)
        if self.pixels == "dequantized":
            return Dequantized(p, dequantization_offset(math.prod(self.card.image_shape), self.levels))
        return p

    @property
    def corruption(self) -> float:
        return 0.0

    def num_parameters(self) -> int:
        """The graphs' weights, or the torch modules' parameters counted once (one module with encode and
        decode sits in both)."""
        onnx = sum(m.num_weights for m in (self.encoder, self.decoder) if hasattr(m, "num_weights"))
        params = {id(p): p.numel() for m in (self.encoder, self.decoder) if not hasattr(m, "num_weights")
                  for p in m.parameters()}
        return onnx + sum(params.values())

    @property
    def differentiable(self) -> bool:
        """Whether gradients flow through both networks: torch modules give them, onnxruntime does not (the
        amortization gap and gradient variances need them; every other estimate does not)."""
        return not any(isinstance(m, OnnxNet) for m in (self.encoder, self.decoder))

    def fingerprint(self) -> str | None:
        """The graphs' digest when both are ONNX (no torch weights to sum), else None."""
        digests = [getattr(m, "digest", None) for m in (self.encoder, self.decoder)]
        return "onnx:" + "".join(digests) if all(digests) else None

    def describe(self) -> str:
        c = self.card
        kind = "AE" if c.encoder_output == "point" else "VAE"
        shape = "x".join(str(s) for s in c.image_shape)
        return (f"{kind} imported from {'ONNX' if c.source == 'onnx' else 'PyTorch'} · latent {c.latent_dim} · "
                f"{c.encoder_output} encoder · {c.likelihood} decoder · input {shape} · "
                f"{self.num_parameters():,} parameters")

    @torch.no_grad()
    def validate(self) -> "ImportedModel":
        """Runs both networks on two inputs and checks their outputs against the card; a ConventionError names
        the option to change."""
        x = torch.full((2, *self.card.image_shape), 0.5).to(self.anchor.device)
        mean, _ = encoder_parts(self._outputs(self.encoder(self._images_in(x))), self.card.encoder_output)
        if mean.shape[-1] != self.latent_dim:
            raise ConventionError(f"the encoder gives codes of size {mean.shape[-1]} but the card says latent_dim "
                                  f"{self.latent_dim}: check encoder_output ({self.card.encoder_output!r})")
        z = torch.randn(2, self.latent_dim, generator=torch.Generator().manual_seed(0)).to(x.device)
        try:
            raw = self._images_out(self._outputs(self.decoder(z)))
        except (RuntimeError, GraphError) as e:  # a decoder whose first layer takes another size
            raise ConventionError(f"the decoder does not take codes of size {self.latent_dim} (the encoder's, read "
                                  f"as encoder_output={self.card.encoder_output!r}; check it): "
                                  f"{str(e).splitlines()[0][:200]}") from None
        check_decoder_outputs(raw, self.card.likelihood)
        self.encode(x)
        return self


def check_trainable(model: LatentModel, name: str) -> None:
    """A ValueError for a model trained elsewhere: training and resuming are for models made here."""
    if isinstance(model, ImportedModel):
        raise ValueError(f"{name}: a model trained elsewhere cannot be trained here (its networks are ONNX graphs, "
                         "with no weights or optimizer state this program can update); train it in its own code "
                         "and import it again, or train a new model here")
