"""What the Train page reads: immutable snapshots of a job, and the live latent map they carry.

The worker thread builds them (LiveMap runs between steps); the page only reads copies.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from ..evaluation.latent_use import count_alive
from ..latent.map import encode_map
from ..model.latent_model import LatentModel
from ..web.payload import map_payload, unsupported

MAP_POINTS = 1000  # test images encoded for the live latent map
LIVE_WEIGHTS_S = 2.0  # the live map's in-page model gets the current weights at most this often (and each epoch)
ACTIVE = ("queued", "loading", "running")
STATUSES = ACTIVE + ("stopped", "finished", "diverged", "error")


@dataclass(frozen=True)
class LatentMap:
    x: list[float]
    y: list[float]
    labels: list[int] | None
    classes: list[str]
    epoch: int
    projection: str  # "latent axes" (a latent of 1 or 2 dimensions) or "PCA" (first two components)
    axis_titles: tuple[str, str]
    payload: bytes | None = None  # the map and the weights for the page's decoder (None: the page cannot run it)
    weights_epoch: float = 0.0  # training progress of the weights in payload, in epochs


@dataclass(frozen=True)
class JobSnapshot:
    status: str  # one of STATUSES
    message: str  # a sentence for the user: why it waits, how it ended, the error
    run: int  # increments on every start / resume, so a UI can tell one run's end from the next
    steps: dict[str, list[float]]  # the trainer's binned history as columns (explorer.train.history.curves)
    epochs: list[dict]  # the Trainer's epoch records (test terms, kl_per_dim, samples_per_sec)
    kl_per_dim: list[float]  # latest per-dimension KL (test set once an epoch is done)
    latent_map: LatentMap | None
    epoch: float  # progress in epochs
    total_epochs: int
    samples_per_sec: float | None  # mean of the finished epochs of this run, else the live rate
    notes: list[str]
    description: str  # model and data in one line
    unit: str = ""  # explorer.data.units key of the curves' numbers ("binarized", "8-bit", ...); "" before loading

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def alive_dims(self) -> int:
        """Latent dimensions with mean KL above ALIVE_KL (evaluation.latent_use: not Burda's active units)."""
        return count_alive(self.kl_per_dim)


class LiveMap:
    """A training's latent map: a fixed test subset encoded after each epoch (encode_map, as the Latent map
    page does), and the current weights for the page's decoder at most every LIVE_WEIGHTS_S.

    Used on the worker thread only, between steps, while the weights are not changing.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, classes: list[str]):
        self.images, self.labels, self.classes = images, labels, list(classes)  # images: what the test terms score
        self._fitted = None  # the last epoch's FittedMap, for weights-only refreshes
        self._packed_at = float("-inf")  # time.monotonic() of the last payload
        self._in_page: bool | None = None  # can the page run this model (None: not asked yet)

    def at_epoch(self, model: LatentModel, epoch: int) -> LatentMap:
        """The map after `epoch` epochs: new points and the current weights."""
        _, self._fitted = encode_map(model, self.images)
        xy, proj = self._fitted.coords, self._fitted.proj
        labels = None if self.labels is None else [int(v) for v in self.labels]
        return LatentMap(xy[:, 0].tolist(), xy[:, 1].tolist(), labels, self.classes, epoch, proj.label,
                         proj.axis_titles(), self._payload(model), float(epoch))

    def with_new_weights(self, model: LatentModel, current: LatentMap | None, progress: float) -> LatentMap | None:
        """current with the model's weights as of now (the points stay the last epoch's), when LIVE_WEIGHTS_S
        have passed since the last payload; else None."""
        if self._fitted is None or time.monotonic() - self._packed_at < LIVE_WEIGHTS_S:
            return None
        payload = self._payload(model)
        if current is None or payload is None:
            return None
        return dataclasses.replace(current, payload=payload, weights_epoch=progress)

    @torch.no_grad()
    def _payload(self, model: LatentModel) -> bytes | None:
        """The map and the current weights for the page; None if the page cannot run this model."""
        self._packed_at = time.monotonic()
        if self._in_page is None:  # the architecture does not change while it trains: ask once
            self._in_page = unsupported(model) is None
        if not self._in_page:
            return None
        labels = None if self.labels is None else self.labels.numpy()
        f = self._fitted
        return map_payload(model, f.proj, f.coords, labels, f.mean, height=460)
