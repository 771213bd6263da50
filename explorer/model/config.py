"""Model configuration: a plain dataclass, so a checkpoint can rebuild a model from asdict(config)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..data.base import MAX_IMAGE_SIDE, check_image_size

KINDS = ("vae", "ae", "dae")
ARCHS = ("mlp", "conv")  # what the trainer builds
IMPORTED = "imported"  # a model trained elsewhere (explorer.model.imported): its nets come from its file
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_learned")
ACTIVATIONS = ("relu", "tanh", "elu", "leaky_relu", "softplus")
MAX_WIDTH = 2**24  # a layer width or latent size past this is a mistake (and would overflow sizes)
MAX_LAYERS = 64  # hidden sizes; a longer list is no model anyone trains, and each layer costs time and memory
# to build (the memory estimate builds them too) before a budget can refuse it; checkpoints hold the same limit


@dataclass
class ModelConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    latent_dim: int = 2
    kind: str = "vae"  # vae | ae | dae
    arch: str = "mlp"  # mlp | conv
    hidden: tuple[int, ...] = (400,)  # MLP hidden sizes; conv channel widths
    activation: str = "relu"
    likelihood: str = "bernoulli"  # bernoulli | gaussian | gaussian_learned
    sigma: float = 0.1  # decoder std for the fixed-sigma Gaussian
    noise: float = 0.3  # DAE corruption: probability a pixel is zeroed (masking noise)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(s) for s in self.image_shape)  # JSON gives lists
        self.hidden = tuple(int(h) for h in self.hidden)
        self.latent_dim, self.sigma, self.noise = int(self.latent_dim), float(self.sigma), float(self.noise)
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {type(self.extra).__name__}")
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        check_image_size(self.image_shape[1:])
        if self.image_shape[0] not in (1, 3):
            raise ValueError(f"images have 1 channel (grey) or 3 (RGB), got {self.image_shape[0]}")
        _check("kind", self.kind, KINDS)
        _check("arch", self.arch, ARCHS + (IMPORTED,))
        _check("likelihood", self.likelihood, LIKELIHOODS)
        _check("activation", self.activation, ACTIVATIONS)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if (not self.hidden and self.arch != IMPORTED) or min(self.hidden, default=1) < 1:
            raise ValueError(f"hidden must list positive sizes, got {self.hidden}")
        if len(self.hidden) > MAX_LAYERS:
            raise ValueError(f"hidden may list at most {MAX_LAYERS} layer sizes, got {len(self.hidden):,}")
        if max(self.hidden + (self.latent_dim,)) > MAX_WIDTH:
            raise ValueError(f"layer widths and the latent size may be at most {MAX_WIDTH:,}")
        if not 0 < self.sigma < float("inf"):
            raise ValueError(f"sigma must be positive and finite, got {self.sigma}")
        if not 0 <= self.noise < 1:
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
