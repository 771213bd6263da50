"""One way to turn (seed, stream, index...) into a generator seed, used by training and evaluation alike.

Nearby inputs (seed 0 step 1, seed 1 step 0) must share no noise, and a seed must depend only on its
inputs: that is what lets a resumed run draw exactly what an uninterrupted one would, and an estimate
not depend on batching or threads.
"""
from __future__ import annotations

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: SplitMix64's increment

# Stream tags, so that (seed, epoch) of one use never draws what (seed, epoch) of another does.
TRAIN_STEP = 1  # z draws, pixel noise and DAE masks of one optimiser step: (step, rank)
TRAIN_ORDER = 2  # the order of an epoch's examples: (epoch,)
TRAIN_EVAL = 3  # the test evaluation after an epoch: (epoch,)
GRADIENT_REPEAT = 4  # one repeat of the gradient-variance diagnostic: (repeat,)
ESTIMATE_REPEAT = 5  # one of the repeated log p(x) estimates that compare_estimators spreads: (repeat,)


def _finalise(z: int) -> int:
    """SplitMix64's output function (Steele, Lea & Flood 2014): every input bit reaches every output bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def mix_seed(seed: int, *parts: int) -> int:
    """A 64-bit generator seed for the stream named by (seed, *parts): one SplitMix64 round per part.

    torch's CPU generator (mt19937) keeps the low 32 bits, CUDA's (Philox) all 64. With one part this is
    the per-example stream of explorer.evaluation.sampling, whose low 32 bits the bundled models'
    recorded log-likelihoods were computed with.
    """
    if not parts:
        raise ValueError("name the stream: mix_seed(seed, part, ...)")
    h = (seed * _GOLDEN) & _MASK64
    for p in parts:
        h = _finalise((h + p + 1) & _MASK64)
    return h
