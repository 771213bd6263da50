"""What a training is asked to do: TrainConfig (stored in a checkpoint as train_config) and its checks."""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..model.objectives import ESTIMATORS


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    beta: float = 1.0
    warmup_epochs: float = 0.0  # linear KL warm-up from 0 to beta over this many epochs
    estimator: str = "analytic"  # analytic (SGVB B) | mc (SGVB A)
    samples: int = 1  # L, z draws per example
    iwae_k: int = 1  # > 1: train on the IWAE bound
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        for name in ("epochs", "batch_size", "samples", "iwae_k", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.beta < 0 or self.warmup_epochs < 0:
            raise ValueError("lr must be positive; beta and warmup_epochs must not be negative")
        if self.samples > 1 and self.iwae_k > 1:
            raise ValueError("use either samples (ELBO) or iwae_k (IWAE bound), not both")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def check_kind_options(kind: str, config: TrainConfig) -> None:
    """A ValueError when config asks an autoencoder (kind ae or dae) for latent samples."""
    if kind != "vae" and (config.iwae_k > 1 or config.samples > 1):
        # An autoencoder's code is a point: k or L draws would be k copies of one reconstruction,
        # and its curves would be labelled a bound it does not compute.
        raise ValueError(f"iwae_k and samples apply to a VAE only: the {kind.upper()} "
                         "has no latent distribution to sample (use 1)")
