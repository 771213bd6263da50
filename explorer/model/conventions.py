"""What a foreign encoder's and decoder's raw outputs mean: the names a person gives (encoder_output,
likelihood) turned into q(z|x) and p(x|z), and the checks that catch a wrong name where the numbers show it.
"""
from __future__ import annotations

import math

import torch
from torch.distributions import Bernoulli, Distribution, Independent

from .distributions import PointMass, bernoulli_image, diagonal_normal

ENCODER_OUTPUTS = ("mean_logvar", "mean_logstd", "mean_std", "point")
LIKELIHOODS = ("bernoulli_logits", "bernoulli_probs", "gaussian", "gaussian_mean_logvar")
# the native likelihood whose units and pages fit each foreign one (explorer.data.units reads these names)
NATIVE_LIKELIHOOD = {"bernoulli_logits": "bernoulli", "bernoulli_probs": "bernoulli", "gaussian": "gaussian",
                     "gaussian_mean_logvar": "gaussian_learned"}
LAYOUTS = ("nchw", "nhwc", "nhw", "flat")  # nhw: one channel and no channel axis (JAX code often)
LOG_FLOOR = -100.0  # torch's binary_cross_entropy clamps each log at -100: a probability of exactly 0 or 1


class ConventionError(ValueError):
    """An option that does not fit the model's numbers; the message names the option to change."""


def check_names(encoder_output: str, likelihood: str, sigma: float | None) -> None:
    if encoder_output not in ENCODER_OUTPUTS:
        raise ConventionError(f"encoder_output must be one of {', '.join(ENCODER_OUTPUTS)}; got {encoder_output!r}")
    if likelihood not in LIKELIHOODS:
        raise ConventionError(f"likelihood must be one of {', '.join(LIKELIHOODS)}; got {likelihood!r}")
    if likelihood == "gaussian" and (sigma is None or not 0 < sigma < math.inf):
        raise ConventionError("likelihood='gaussian' needs the decoder's fixed standard deviation: pass sigma=, "
                              "a positive number (or use 'gaussian_mean_logvar' if the decoder outputs a variance)")


def encoder_parts(outputs: list[torch.Tensor], encoder_output: str, latent_dim: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(mean, second) from the encoder's outputs: two tensors, or one split in half; a third output (the
    Keras example's sampled z) is ignored. second is None for a point code."""
    flat = [o.reshape(len(o), -1) if o.dim() != 2 else o for o in outputs]
    if encoder_output == "point":
        if len(flat) >= 2 and flat[1].shape == flat[0].shape:
            raise ConventionError("encoder_output='point' but the encoder gives two outputs of one size, a mean and "
                                  "a spread: use 'mean_logvar', 'mean_logstd' or 'mean_std'")
        mean, second = flat[0], None
    elif len(flat) >= 2:
        mean, second = flat[0], flat[1]
        if mean.shape != second.shape:
            raise ConventionError(f"the encoder's two outputs have sizes {mean.shape[-1]} and {second.shape[-1]}; "
                                  f"encoder_output={encoder_output!r} needs a mean and a spread of one size")
    else:
        if flat[0].shape[-1] % 2:
            raise ConventionError(f"the encoder gives one output of odd size {flat[0].shape[-1]}, which cannot be "
                                  f"split into a mean and a spread: if it is the code itself, use "
                                  f"encoder_output='point'")
        mean, second = flat[0].chunk(2, dim=-1)
    if latent_dim is not None and mean.shape[-1] != latent_dim:
        raise ConventionError(f"the encoder gives codes of size {mean.shape[-1]} but the decoder takes "
                              f"{latent_dim}: check encoder_output ({encoder_output!r}: "
                              f"{'one output' if encoder_output == 'point' else 'mean and spread'})")
    return mean, second


def posterior(outputs: list[torch.Tensor], encoder_output: str, latent_dim: int | None = None) -> Distribution:
    """q(z|x) from the encoder's outputs under the named convention."""
    mean, second = encoder_parts(outputs, encoder_output, latent_dim)
    if second is None:
        return PointMass(mean)
    if encoder_output == "mean_logvar":
        scale = torch.exp(0.5 * second)
    elif encoder_output == "mean_logstd":
        scale = torch.exp(second)
    else:
        if bool((second <= 0).any()):
            raise ConventionError(f"encoder_output='mean_std' but the encoder's second output has values "
                                  f"<= 0 (min {float(second.min()):.3g}): a standard deviation must be positive; "
                                  "use 'mean_logvar' or 'mean_logstd' if it is a logarithm")
        scale = second
    return diagonal_normal(mean, scale)


class ProbsBernoulliImage(Independent):
    """Bernoulli pixels given as probabilities. log_prob is x log p + (1 - x) log(1 - p) with each log
    clamped at -100, exactly minus torch's binary_cross_entropy (what such decoders were trained with), so
    a probability of exactly 0 or 1 (a float32 sigmoid rounds to them) gives a finite number."""

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        p = self.base_dist.probs
        ll = value * torch.log(p).clamp_min(LOG_FLOOR) + (1 - value) * torch.log1p(-p).clamp_min(LOG_FLOOR)
        return ll.sum(dim=(-3, -2, -1))


def observation(out: torch.Tensor, likelihood: str, sigma: float | None) -> Independent:
    """p(x|z) from the decoder's output as images (N, C, H, W), or (N, 2C, H, W) for gaussian_mean_logvar."""
    if likelihood == "bernoulli_logits":
        return bernoulli_image(out)
    if likelihood == "bernoulli_probs":
        lo, hi = (float(out.detach().min()), float(out.detach().max())) if out.numel() else (0.0, 1.0)
        if lo < 0 or hi > 1:
            raise ConventionError(f"likelihood='bernoulli_probs' but the decoder's outputs run from {lo:.3g} to "
                                  f"{hi:.3g}, outside [0, 1]: they are not probabilities; use "
                                  "likelihood='bernoulli_logits' (no sigmoid at the decoder's end)")
        return ProbsBernoulliImage(Bernoulli(probs=out, validate_args=False), 3, validate_args=False)
    if likelihood == "gaussian":
        return diagonal_normal(out, torch.full_like(out, float(sigma)), event_dims=3)
    mean, logvar = out.chunk(2, dim=-3)
    return diagonal_normal(mean, torch.exp(0.5 * logvar), event_dims=3)


def check_decoder_outputs(out: torch.Tensor, likelihood: str) -> None:
    """A ConventionError where the numbers contradict the likelihood: logits that all lie in [0, 1] are
    probabilities (a sigmoid at the decoder's end), and probabilities must lie in [0, 1]."""
    if likelihood == "bernoulli_logits" and out.numel() and float(out.min()) >= 0 and float(out.max()) <= 1:
        raise ConventionError("likelihood='bernoulli_logits' but every decoder output lies in [0, 1]: they look "
                              "like probabilities (a sigmoid at the decoder's end); use likelihood='bernoulli_probs'")
    if likelihood == "bernoulli_probs":
        observation(out, likelihood, None)
