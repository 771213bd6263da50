"""What a model's log p(x), ELBO and reconstruction term measure: one unit per (pixel rule, likelihood).

Every number is nats per image. Only some are log-probabilities of discrete images, and only those can be
ranked against each other (on the same data) or given in bits per dimension:

    binarized  + Bernoulli  log P(x) of the binarized image: a probability
    dequantized + Gaussian  log p(y) - D log L <= log P(x) of the L-level image (Theis et al. 2016, sec. 3.1):
                            L = 256 for 8-bit images ("8-bit"), 17 for digits ("17-level"); a uniform
                            model scores log2 L bits/dim
    grey       + Bernoulli  a cross-entropy on grey levels (not a log-likelihood)
    otherwise               a density of pixels in [0, 1] (not a probability: it grows as sigma shrinks)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .pixels import LEVELS


@dataclass(frozen=True)
class Unit:
    key: str  # "binarized", "8-bit" (or "17-level"...), "grey cross-entropy", "grey density", "binary density"
    scores: str  # the data the number scores, for a caption
    meaning: str  # what the number is
    probability: bool  # a log-probability (or a lower bound on one) of discrete images

    @property
    def label(self) -> str:
        """A caption: "nats per image: log-probability of the binarized image"."""
        return f"nats per image: {self.meaning}"

    def bits_per_dim(self, nats: float, dims: int) -> float | None:
        """-log2 P(x) / D, the literature's bits per dimension; None when the number is no probability."""
        return -nats / (dims * math.log(2)) if self.probability else None

    def show(self, nats: float, dims: int, of_x: bool = True) -> str:
        """"-86.21 nats per image (1.37 bits/dim)" or "-25.02 nats per image" for a number with no probability.
        of_x False: a number that bounds no log p(x) (an autoencoder's reconstruction term): no bits/dim."""
        bpd = self.bits_per_dim(nats, dims) if of_x else None
        return f"{nats:.2f} nats per image" + ("" if bpd is None else f" ({bpd:.3f} bits/dim)")


UNITS = {
    ("binarized", "bernoulli"): Unit("binarized", "binarized images", "log-probability of the binarized image",
                                     True),
    ("dequantized", "gaussian"): Unit("8-bit", "dequantized 8-bit images",
                                      "lower bound on the 8-bit image's log-probability (log p(y) - D log 256)",
                                      True),
    ("grey", "bernoulli"): Unit("grey cross-entropy", "grey levels",
                                "minus a Bernoulli cross-entropy on grey levels, not a log-likelihood", False),
    ("grey", "gaussian"): Unit("grey density", "grey levels", "density of grey pixels in [0, 1], not a probability",
                               False),
    ("binarized", "gaussian"): Unit("binary density", "binarized images",
                                    "Gaussian density at binary pixels, not a probability", False),
}


def unit_of(pixels: str, likelihood: str, levels: int = LEVELS) -> Unit:
    """The unit of a model trained and scored on `pixels` (of `levels` grey levels) with decoder `likelihood`."""
    family = "bernoulli" if likelihood == "bernoulli" else "gaussian"
    try:
        unit = UNITS[(pixels, family)]
    except KeyError:
        raise ValueError(f"no unit for {likelihood} on {pixels} pixels") from None
    if unit.key == "8-bit" and levels != LEVELS:  # the same bound on images of other depth
        return Unit(f"{levels}-level", f"dequantized {levels}-level images",
                    f"lower bound on the {levels}-level image's log-probability (log p(y) - D log {levels})", True)
    return unit


def dequantization_offset(dims: int, levels: int = LEVELS) -> float:
    """-D log L: the log-volume of one L-level image's cell of [0, 1)^D (L = 256: 8-bit)."""
    return -dims * math.log(levels)


def comparison(a: Unit, b: Unit) -> str | None:
    """None when two numbers can be ranked; otherwise why not, for a caption or the CLI."""
    if a == b and a.probability:
        return None
    if a == b:
        return f"both are {a.meaning}: neither is a log-likelihood, so they are not ranked"
    return (f"not comparable: one is a {a.meaning} (on {a.scores}), the other a {b.meaning} (on {b.scores}); "
            "different units are not ranked")


def unit_fields(unit: Unit) -> dict[str, str]:
    """What a stored metrics block or a JSON report carries beside its numbers."""
    return {"unit": unit.key, "scores": unit.scores}
