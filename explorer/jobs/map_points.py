"""Whole data sets on a shared server's map: each model's encoding of a split made once for every session (however
many ask at once), kept in memory and in the file cache (store.map_cache, where `encode` and `warm --splits` put
theirs), and the images a split holds checked against the server's memory budget before they are read."""
from __future__ import annotations

import math
from typing import Callable, Hashable

import torch

from ..model.encoding import Encoding
from ..model.latent_model import LatentModel
from ..store.map_cache import cached_split_encoding
from ..train.memory import MB, OverBudget, memory_budget_mb
from .admission import max_trainings_from_env
from .shared_work import SharedWork

Wait = Callable[[float, str, float], None]


class SplitEncodings:
    """key -> the Encoding of a split's images: from this object's memory, else map_cache (memory, then the file
    under name), else encoded in chunks once while every caller waits and sees the count."""

    def __init__(self, max_entries: int = 4):
        self._work = SharedWork(max_entries, "split-encoding")

    @property
    def computed(self) -> int:
        """How many times a key's work was started (tests count them)."""
        return self._work.computed

    def peek(self, key: Hashable) -> Encoding | None:
        ready, enc = self._work.peek(key)
        return enc if ready else None

    def get(self, key: Hashable, model: LatentModel, x: torch.Tensor, name: str | None,
            wait: Wait | None = None) -> Encoding:
        """The encoding of x (the images as scored) under key; wait(fraction, text, seconds) while it is made."""
        return self._work.get(key, lambda p: cached_split_encoding(model, x, name, p), wait)

    def drop(self, matches: Callable[[Hashable], bool]) -> int:
        """Forget the encodings whose key matches (an upload no session uses any more); how many."""
        return self._work.drop(matches)

    def clear(self) -> None:
        self._work.clear()


def images_bytes(n: int, image_shape: tuple[int, ...], copies: int = 2) -> int:
    """What n float32 images take in memory: the grey ones shown and the scored ones encoded (copies)."""
    return n * math.prod(image_shape) * 4 * copies


def check_images_memory(n: int, image_shape: tuple[int, ...], what: str) -> None:
    """OverBudget when holding n images (grey and scored) would pass the server's budget per job
    (EXPLORER_MEMORY_BUDGET_MB, else half the memory over EXPLORER_MAX_TRAININGS: a training's budget)."""
    need, budget = images_bytes(n, image_shape), memory_budget_mb(max_trainings_from_env())
    if need > budget * MB:
        raise OverBudget(f"mapping {what} ({n:,} images) would hold about {need / MB:,.0f} MB of images, over this "
                         f"server's budget of {budget:,} MB (EXPLORER_MEMORY_BUDGET_MB): choose the test split")
