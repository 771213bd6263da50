"""How grey images in [0, 1] become the data a likelihood explains: binarized, dequantized or as they are.

    binarized    one Bernoulli draw per pixel, p = grey level (Salakhutdinov & Murray 2008)
    dequantized  y = ((L - 1) x + u) / L, u ~ U[0, 1) per pixel, L the data set's grey levels (256 for
                 8-bit images, 17 for digits; levels_of) (Theis et al. 2016, "A note on the evaluation of
                 generative models", sec. 3.1): a density on y bounds the L-level image's probability,
                 log P(x) >= E_u[log p(y)] - D log L
    grey         the grey levels themselves (a Bernoulli decoder's cross-entropy; an old Gaussian's density)

Training draws fresh noise every visit; the test set is drawn once, on the CPU, with TEST_SEED, so every
device, page and command scores the same images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

PIXELS = ("binarized", "dequantized", "grey")
CHOICES = ("auto",) + PIXELS
LEGACY = {"dynamic": "binarized", "none": "grey"}  # the old --binarize values
TEST_SEED = 1234  # the test set's binarization or dequantization noise, whatever the training seed
LEVELS = 256  # 8-bit pixels
DATASET_LEVELS = {"digits": 17}  # scikit-learn's digits: grey levels 0..16; every other data set is 8-bit


def levels_of(dataset: str | None) -> int:
    """The number of grey levels of a data set's images (by its name): what dequantization fills."""
    return DATASET_LEVELS.get(dataset or "", LEVELS)


def resolve_pixels(choice: str, likelihood: str, legacy: bool = False) -> str:
    """The rule a model trains on: "auto" is binarized for a Bernoulli decoder, dequantized for a Gaussian.
    legacy: the old rule of files that stored only train_config.binarize, where auto meant grey levels for a
    Gaussian. A Bernoulli decoder on dequantized (continuous) pixels would be neither a probability nor a
    density."""
    choice = LEGACY.get(choice, choice)
    if choice not in CHOICES:
        raise ValueError(f"pixels must be one of {', '.join(CHOICES)}; got {choice!r}")
    if choice == "auto":
        return "binarized" if likelihood == "bernoulli" else "grey" if legacy else "dequantized"
    if choice == "dequantized" and likelihood == "bernoulli":
        raise ValueError("a Bernoulli decoder cannot score dequantized pixels: use binarized (or grey, a "
                         "cross-entropy), or a Gaussian decoder")
    return choice


def to_data(x: Tensor, pixels: str, generator: torch.Generator | None = None, levels: int = LEVELS) -> Tensor:
    """x (grey levels in [0, 1]) as the likelihood sees it, with noise from generator (fresh if None);
    levels: how many grey levels x has (dequantized: each level's cell of width 1 / levels is filled)."""
    if pixels == "binarized":
        return torch.bernoulli(x, generator=generator)
    if pixels == "dequantized":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (torch.round(x * (levels - 1)) + u) / levels
    if pixels == "grey":
        return x
    raise ValueError(f"pixels must be one of {', '.join(PIXELS)}; got {pixels!r}")


def scored_pixels(x: Tensor, pixels: str, seed: int = TEST_SEED, levels: int = LEVELS) -> Tensor:
    """The scored test images: the noise drawn once with seed on the CPU, before any subsetting."""
    if pixels == "grey":
        return x
    return to_data(x.cpu(), pixels, torch.Generator().manual_seed(seed), levels)


def mask(x: Tensor, noise: float, generator: torch.Generator | None = None) -> Tensor:
    """Masking noise for a denoising AE (Vincent et al. 2008): each pixel zeroed with probability noise."""
    if noise == 0:
        return x
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * (u >= noise)


@dataclass(frozen=True)
class BatchTransform:
    """What the trainer does to a batch before the loss: the pixel rule, then a DAE's corruption.

    The trainer calls train() and test() and knows nothing of likelihoods or model kinds."""

    pixels: str
    noise: float = 0.0  # DAE masking probability; 0 for a VAE or AE
    test_seed: int = TEST_SEED  # the fixed noise of the scored test images (DatasetRef.test_seed)
    levels: int = LEVELS  # the data's grey levels, for dequantization (DatasetRef.levels)

    def train(self, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """(encoder input, decoder target) for one training batch of grey images."""
        target = to_data(x, self.pixels, generator, self.levels)
        return mask(target, self.noise, generator), target

    @classmethod
    def for_model(cls, model, test_seed: int = TEST_SEED) -> "BatchTransform":
        """The transform a LatentModel trains with: its pixel rule (model.pixels) and its corruption."""
        if model.pixels not in PIXELS:
            raise ValueError(f"the model has no pixel rule (pixels={model.pixels!r}); build it with one")
        return cls(model.pixels, model.corruption, test_seed, model.levels)

    def test(self, x: Tensor) -> Tensor:
        """The fixed test images the epoch's test terms score (clean: a DAE is scored on clean inputs)."""
        return scored_pixels(x, self.pixels, self.test_seed, self.levels)
