"""Training jobs: a Trainer on a background thread, read by a UI through locked snapshots.

The app keeps one TrainingJob per browser session (in st.session_state) and polls snapshot() about
once a second. Everything the worker produces (curves, the live latent map, errors) is copied under
a lock, so the UI never touches tensors that the worker is updating.

A class shares one server, so a process-wide TrainingSlots lets at most EXPLORER_MAX_TRAININGS
(default 2) jobs train at once; the rest wait in FIFO order and can say why and where they are.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .checkpoint import load_checkpoint, save_model
from .config import ModelConfig
from .data import ImageDataset, load_training_data
from .evaluation.latent_use import count_alive
from .model import LatentModel, build_model
from .projection import make_projection
from .data.pixels import BatchTransform, resolve_pixels
from .data.ref import DatasetRef
from .run_record import run_metadata
from .trainer import TrainConfig, Trainer, TrainingDiverged
from .web_payload import map_payload, unsupported

log = logging.getLogger(__name__)

DEFAULT_MAX_TRAININGS = 2
MAP_POINTS = 1000  # test images encoded for the live latent map
LIVE_WEIGHTS_S = 2.0  # the live map's in-page model gets the current weights at most this often (and each epoch)
MAX_CURVE_POINTS = 1000  # live step curves are binned to at most this many points (the browser redraws them each second)
ACTIVE = ("queued", "loading", "running")
STATUSES = ACTIVE + ("stopped", "finished", "diverged", "error")


# -- the server-wide limit -----------------------------------------------------------------------
class TrainingSlots:
    """At most `limit` trainings at once in this process; the others wait in FIFO order."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self._cond = threading.Condition()
        self._running: set[int] = set()
        self._queue: list[int] = []

    def acquire(self, key: int, cancel: threading.Event) -> bool:
        """Block until `key` may train (True) or `cancel` is set while it waits (False)."""
        with self._cond:
            self._queue.append(key)
            while not (self._queue[0] == key and len(self._running) < self.limit):
                if cancel.is_set():
                    self._queue.remove(key)
                    self._cond.notify_all()
                    return False
                self._cond.wait(timeout=0.2)  # short, so a cancel is noticed without a notify
            self._queue.pop(0)
            self._running.add(key)
            self._cond.notify_all()
            return True

    def release(self, key: int) -> None:
        with self._cond:
            self._running.discard(key)
            self._cond.notify_all()

    def position(self, key: int) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._cond:
            return self._queue.index(key) + 1 if key in self._queue else None

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)


def max_trainings_from_env() -> int:
    raw = os.environ.get("EXPLORER_MAX_TRAININGS", "").strip()
    if not raw:
        return DEFAULT_MAX_TRAININGS
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"EXPLORER_MAX_TRAININGS must be a whole number, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"EXPLORER_MAX_TRAININGS must be at least 1, got {n}")
    return n


def threads_per_training(limit: int) -> int:
    """CPU threads for one training: EXPLORER_TRAIN_THREADS, else the cores shared by `limit` trainings.

    More OpenMP threads than free cores makes CPU training many times slower (threads spin waiting
    for each other), so concurrent trainings split the cores instead of each taking all of them.
    """
    raw = os.environ.get("EXPLORER_TRAIN_THREADS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"EXPLORER_TRAIN_THREADS must be a whole number, got {raw!r}") from None
        if n < 1:
            raise ValueError(f"EXPLORER_TRAIN_THREADS must be at least 1, got {n}")
        return n
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // limit)


_SLOTS: TrainingSlots | None = None
_SLOTS_LOCK = threading.Lock()


def server_slots() -> TrainingSlots:
    """The one TrainingSlots of this process (created on first use from EXPLORER_MAX_TRAININGS)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = TrainingSlots(max_trainings_from_env())
        return _SLOTS


def wait_reason(running: int, position: int) -> str:
    """The sentence a waiting user reads."""
    runs = f"{running} training is" if running == 1 else f"{running} trainings are"
    return (f"{runs} running on this server; yours starts when one finishes "
            f"(you are number {position} in the queue).")


# -- what a job is asked to do ---------------------------------------------------------------------
@dataclass
class JobSpec:
    """A new model (dataset + model options + TrainConfig), or a checkpoint to continue (resume_from)."""

    dataset: str = "digits"
    data_dir: str | None = None
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields except image_shape
    train: TrainConfig = field(default_factory=TrainConfig)
    resume_from: str | None = None  # continue this checkpoint up to train.epochs in total
    threads: int | None = None  # CPU threads; None: threads_per_training() of the job's slots
    download: bool = False  # fetch a dataset that is not on disk (MNIST falls back to its bundled split)
    pixels: str = "auto"  # explorer.data.pixels: auto | binarized | dequantized | grey (a new model only)

    def __post_init__(self) -> None:
        if "image_shape" in self.model:
            raise ValueError("image_shape comes from the dataset; leave it out of the model options")
        ModelConfig(**self.model)  # fail now, on the caller's thread, with ModelConfig's message
        if not self.resume_from:
            resolve_pixels(self.pixels, self.model.get("likelihood", "bernoulli"))


# -- what the UI reads ----------------------------------------------------------------------------
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
    steps: dict[str, list[float]]  # epoch (fractional), step, recon, kl, elbo, beta: train, per step
    epochs: list[dict]  # the Trainer's epoch records (test terms, kl_per_dim, samples_per_sec)
    kl_per_dim: list[float]  # latest per-dimension KL (test set once an epoch is done)
    latent_map: LatentMap | None
    epoch: float  # progress in epochs
    total_epochs: int
    samples_per_sec: float | None  # mean of the finished epochs of this run, else the live rate
    notes: list[str]
    description: str  # model and data in one line

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def alive_dims(self) -> int:
        """Latent dimensions with mean KL above ALIVE_KL (evaluation.latent_use: not Burda's active units)."""
        return count_alive(self.kl_per_dim)


class _Curves:
    """Step records binned so the live curves never exceed MAX_CURVE_POINTS points."""

    KEYS = ("epoch", "step", "recon", "kl", "elbo", "beta")

    def __init__(self) -> None:
        self.points: dict[str, list[float]] = {k: [] for k in self.KEYS}
        self.every = 1
        self._acc: dict[str, float] = dict.fromkeys(self.KEYS, 0.0)
        self._n = 0

    def add(self, rec: dict) -> None:
        for k in self.KEYS:
            self._acc[k] += float(rec[k])
        self._n += 1
        if self._n < self.every:
            return
        for k in self.KEYS:
            self.points[k].append(self._acc[k] / self._n)
            self._acc[k] = 0.0
        self._n = 0
        if len(self.points["step"]) >= MAX_CURVE_POINTS:  # halve: average neighbouring pairs
            for k, v in self.points.items():
                self.points[k] = [(a + b) / 2 for a, b in zip(v[0::2], v[1::2])]
            self.every *= 2


_IDS = itertools.count(1)


class TrainingJob:
    """One session's training. start() / stop() / resume() return at once; snapshot() is cheap."""

    def __init__(self, spec: JobSpec, slots: TrainingSlots | None = None):
        self.spec = spec
        self.id = next(_IDS)
        self._slots = slots or server_slots()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.trainer: Trainer | None = None
        self.data: ImageDataset | None = None
        self.ref: DatasetRef | None = None
        self._status, self._message, self._run = "idle", "", 0
        self._curves = _Curves()
        self._epochs: list[dict] = []
        self._kl_per_dim: list[float] = []
        self._map: LatentMap | None = None
        self._live_rate: float | None = None
        self._run_epoch_rates: list[float] = []
        self._progress = 0.0
        self._notes: list[str] = []
        self._description = ""
        self._map_x: torch.Tensor | None = None
        self._map_y: torch.Tensor | None = None
        self._map_arrays: tuple | None = None  # (projection, coords, mu) of the last map, for weights-only refreshes
        self._packed_at = float("-inf")  # time.monotonic() of the last live payload
        self._in_page: bool | None = None  # can the page run this model (None: not asked yet)
        self.kept: tuple[int, float] | None = None  # (run, epoch) its owner last saved to a file

    # -- control (any thread) ---------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        with self._lock:
            if self._status != "idle":
                raise RuntimeError(f"this job was already started (it is {self._status})")
        return self._launch()

    def resume(self, epochs: int | None = None) -> "TrainingJob":
        """Continue a stopped or finished job, up to `epochs` in total (default: the old total)."""
        with self._lock:
            if self._status not in ("stopped", "finished") or self.trainer is None:
                raise RuntimeError(f"only a stopped or finished job can resume (this one is {self._status})")
            if epochs is not None:
                if epochs <= self.trainer.state["epoch"]:
                    raise ValueError(f"give more than the {self.trainer.state['epoch']} epochs already done")
                self.trainer.config.epochs = epochs  # the worker is idle, so this is not a race
        return self._launch()

    def stop(self) -> None:
        """Stop after the current step (or leave the queue). Returns at once; the worker ends soon."""
        self._stop.set()
        trainer = self.trainer
        if trainer is not None:
            trainer.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True when it has ended (for tests and scripts)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return t is None or not t.is_alive()

    # -- reading (any thread) ---------------------------------------------------------------------
    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    def snapshot(self) -> JobSnapshot:
        position = self._slots.position(self.id)
        with self._lock:
            status, message = self._status, self._message
            if status == "queued" and position is not None:
                message = wait_reason(self._slots.running, position)
            cfg = self.trainer.config if self.trainer else self.spec.train
            rate = (sum(self._run_epoch_rates) / len(self._run_epoch_rates) if self._run_epoch_rates
                    else self._live_rate)
            return JobSnapshot(
                status=status, message=message, run=self._run,
                steps={k: list(v) for k, v in self._curves.points.items()},
                epochs=[dict(e) for e in self._epochs], kl_per_dim=list(self._kl_per_dim),
                latent_map=self._map, epoch=self._progress, total_epochs=cfg.epochs,
                samples_per_sec=rate, notes=list(self._notes), description=self._description)

    # -- results (only while the worker is idle: the weights are not changing) -----------------------
    def metadata(self) -> dict[str, Any]:
        """What the CLI writes next to the weights: dataset, train_config, history, status, metrics."""
        t = self._idle_trainer()
        return copy.deepcopy(run_metadata(t, self.ref, t.status))

    def result_model(self) -> LatentModel:
        """A CPU copy of the model in eval mode with .metadata, like explorer.load_model gives."""
        t = self._idle_trainer()
        model = copy.deepcopy(t.model).cpu().eval()
        model.metadata = self.metadata()
        return model

    def save(self, path: str | os.PathLike) -> Path:
        """Write the checkpoint atomically (weights, optimizer state and metadata, as the CLI does)."""
        t = self._idle_trainer()
        return save_model(t.model, path, optimizer=t.optimizer, **self.metadata())

    def checkpoint_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            return self.save(Path(d) / "model.safetensors").read_bytes()

    def _idle_trainer(self) -> Trainer:
        with self._lock:
            if self._status in ACTIVE or self.trainer is None:
                raise RuntimeError(f"no trained model to use yet (the job is {self._status})")
            self.trainer.history["state"] = dict(self.trainer.state)
            return self.trainer

    # -- the worker thread ------------------------------------------------------------------------
    def _launch(self) -> "TrainingJob":
        self._stop.clear()
        with self._lock:
            self._status, self._message = "queued", "waiting for a free training slot"
            self._run += 1
            self._run_epoch_rates = []
        self._thread = threading.Thread(target=self._work, name=f"training-job-{self.id}", daemon=True)
        self._thread.start()
        return self

    def _set(self, **kw: Any) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, f"_{k}", v)

    def _work(self) -> None:
        # OpenMP's thread count is per calling thread, so this sets the worker's, not the server's
        torch.set_num_threads(self.spec.threads or threads_per_training(self._slots.limit))
        try:
            if not self._slots.acquire(self.id, self._stop):
                self._set(status="stopped", message="stopped before it started")
                return
            try:
                if self.trainer is None:
                    self._set(status="loading", message="loading the data and building the model")
                    self._build()
                self._set(status="running", message="training")
                if self._stop.is_set():  # stop() came while loading, before fit() could see it
                    self.trainer.status, self.trainer.message = "stopped", "stopped before the first step"
                else:
                    self.trainer.fit()
                self._set(status=self.trainer.status, message=self.trainer.message)
            finally:
                self._slots.release(self.id)
        except TrainingDiverged as e:
            self._set(status="diverged", message=f"Training diverged: {e}")
        except Exception as e:  # anything else (missing data, bad device, out of memory) reaches the UI
            log.exception("training job %s failed", self.id)
            self._set(status="error", message=f"{type(e).__name__}: {e}")

    def _build(self) -> None:
        spec = self.spec
        opt_state, history = None, None
        if spec.resume_from:
            ckpt = load_checkpoint(spec.resume_from)
            model, opt_state = ckpt.model, ckpt.optimizer_state
            history = model.metadata.get("history")
            tc = dict(model.metadata.get("train_config", {}))
            tc.update(epochs=spec.train.epochs, device=spec.train.device)
            config = TrainConfig.from_dict(tc)
            data = load_training_data(ckpt.dataset.name or spec.dataset, spec.data_dir, spec.download)
            ref = DatasetRef.for_training(data, model.pixels, model.config.likelihood)
        else:
            data = load_training_data(spec.dataset, spec.data_dir, spec.download)
            # as the CLI does: a seed gives the same initial weights (the generator is process-wide,
            # so this is exact when one training runs at a time)
            torch.manual_seed(spec.train.seed)
            mc = ModelConfig(image_shape=data.image_shape, **spec.model)
            ref = DatasetRef.for_training(data, spec.pixels, mc.likelihood)
            model = build_model(mc, pixels=ref.pixels)
            config = spec.train
        trainer = Trainer(model, data, config, BatchTransform.for_model(model), optimizer_state=opt_state,
                          history=history)
        trainer.add_callback("step", self._on_step)
        trainer.add_callback("epoch", self._on_epoch)
        n = min(MAP_POINTS, len(data.test_x))
        self._map_x = ref.scored(data.test_x)[:n].to(trainer.device)  # the images the test terms score
        self._map_y = None if data.test_y is None else data.test_y[:n]
        with self._lock:
            self.data, self.trainer, self.ref = data, trainer, ref
            self._notes = list(data.notes)
            self._description = f"{model.describe()} · {data.name}, {len(data.train_x):,} training images"
            self._epochs = [dict(e) for e in trainer.history["epochs"]]
            self._progress = float(trainer.state["epoch"])
        latent_map = self._encode_map(int(trainer.state["epoch"]))  # the map before any (further) training
        with self._lock:
            self._map = latent_map

    def _on_step(self, rec: dict) -> None:
        if self._stop.is_set():
            self.trainer.stop()
        if self._map_arrays is not None and time.monotonic() - self._packed_at >= LIVE_WEIGHTS_S:
            progress = rec["epoch"] + 1.0 / self._batches()
            payload = self._live_payload(*self._map_arrays)  # new weights, the last epoch's points
            with self._lock:
                if self._map is not None and payload is not None:
                    self._map = dataclasses.replace(self._map, payload=payload, weights_epoch=progress)
        with self._lock:
            self._curves.add(rec)
            if not self._epochs:  # until a test evaluation exists, show the training batch's KL
                self._kl_per_dim = rec["kl_per_dim"]
            self._live_rate = rec["samples_per_sec"]
            self._progress = rec["epoch"] + 1.0 / self._batches()

    def _on_epoch(self, rec: dict) -> None:
        latent_map = self._encode_map(rec["epoch"])
        with self._lock:  # the epoch's numbers and its map appear together
            self._epochs.append(dict(rec))
            self._run_epoch_rates.append(rec["samples_per_sec"])
            if rec.get("kl_per_dim"):
                self._kl_per_dim = list(rec["kl_per_dim"])
            self._progress = float(rec["epoch"])
            self._map = latent_map

    def _batches(self) -> int:
        return max(1, -(-len(self.data.train_x) // self.trainer.config.batch_size))

    @torch.no_grad()
    def _encode_map(self, epoch: int) -> LatentMap:
        """Encode the fixed test subset; runs on the worker thread, between steps."""
        model = self.trainer.model
        was_training = model.training
        model.eval()
        mu = model.encode(self._map_x).mean.float().cpu()
        if was_training:
            model.train()
        # the same projections as the Latent map page: the latent itself up to 2-D, else PCA
        proj = make_projection("axes" if mu.shape[1] <= 2 else "pca")
        xy = proj.fit_transform(mu.numpy())
        labels = None if self._map_y is None else [int(v) for v in self._map_y]
        self._map_arrays = (proj, xy, mu.numpy())
        return LatentMap(xy[:, 0].tolist(), xy[:, 1].tolist(), labels, list(self.data.classes), epoch,
                         proj.label, proj.axis_titles(), self._live_payload(proj, xy, mu.numpy()), float(epoch))

    @torch.no_grad()
    def _live_payload(self, proj, xy, mu) -> bytes | None:
        """The map and the current weights for the page (worker thread, between steps); None if the page
        cannot run this model."""
        model = self.trainer.model
        self._packed_at = time.monotonic()
        if self._in_page is None:  # the architecture does not change while it trains: ask once
            self._in_page = unsupported(model) is None
        if not self._in_page:
            return None
        labels = None if self._map_y is None else self._map_y.numpy()
        return map_payload(model, proj, xy, labels, mu, height=460)
