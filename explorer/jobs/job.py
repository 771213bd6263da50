"""A job's lifecycle: a Trainer on a background thread, started, stopped and resumed from the page.

The app keeps one TrainingJob per browser session (in st.session_state) and polls snapshot() about
once a second. Everything the worker produces (the epochs, the live latent map, errors) is copied
under a lock, and the curves are the trainer's own binned history, so the UI never touches tensors
the worker is updating. A process-wide TrainingSlots (admission.py) decides when it may train.
"""
from __future__ import annotations

import copy
import itertools
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch

from ..data import ImageDataset
from ..data.interrupt import Stopped, stop_on
from ..data.ref import DatasetRef
from ..data.units import unit_of
from ..model.latent_model import LatentModel
from ..store.checkpoint import save_model
from ..train.memory import OverBudget
from ..train.history import curves
from ..train.run_record import run_metadata
from ..train.trainer import Trainer, TrainingDiverged
from .admission import TrainingSlots, server_slots, threads_per_training, wait_reason
from .snapshots import ACTIVE, JobSnapshot, LatentMap, LiveMap, MAP_POINTS
from .spec import JobSpec, build_trainer

log = logging.getLogger(__name__)

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
        self._epochs: list[dict] = []
        self._kl_per_dim: list[float] = []
        self._map: LatentMap | None = None
        self._live_rate: float | None = None
        self._run_epoch_rates: list[float] = []
        self._progress = 0.0
        self._notes: list[str] = []
        self._description = ""
        self._unit = ""
        self._live: LiveMap | None = None
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
                steps=curves(self.trainer.history if self.trainer else {}),  # the trainer's own binned history
                epochs=[dict(e) for e in self._epochs], kl_per_dim=list(self._kl_per_dim),
                latent_map=self._map, epoch=self._progress, total_epochs=cfg.epochs,
                samples_per_sec=rate, notes=list(self._notes), description=self._description,
                unit=self._unit)

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
                    with stop_on(self._stop):  # a slow folder or download checks Stop between files
                        self._build()
                self._set(status="running", message="training")
                if self._stop.is_set():  # stop() came while loading, before fit() could see it
                    self.trainer.status, self.trainer.message = "stopped", "stopped before the first step"
                else:
                    self.trainer.fit()
                self._set(status=self.trainer.status, message=self.trainer.message)
            finally:
                self._slots.release(self.id)
        except Stopped as e:  # the slot is already back (finally above); nothing was built
            self._set(status="stopped", message=str(e))
        except OverBudget as e:  # refused before a weight was allocated: the message says estimate and budget
            self._set(status="error", message=f"Cannot start: {e}")
        except TrainingDiverged as e:
            self._set(status="diverged", message=f"Training diverged: {e}")
        except Exception as e:  # anything else (missing data, bad device, out of memory) reaches the UI
            log.exception("training job %s failed", self.id)
            self._set(status="error", message=f"{type(e).__name__}: {e}")

    def _build(self) -> None:
        trainer, data, ref = build_trainer(self.spec)
        trainer.add_callback("step", self._on_step)
        trainer.add_callback("epoch", self._on_epoch)
        n = min(MAP_POINTS, len(data.test_x))
        self._live = LiveMap(ref.scored(data.test_x)[:n].to(trainer.device),  # the images the test terms score
                             None if data.test_y is None else data.test_y[:n], data.classes)
        with self._lock:
            self.data, self.trainer, self.ref = data, trainer, ref
            self._notes = list(data.notes)
            self._description = f"{trainer.model.describe()} · {data.name}, {len(data.train_x):,} training images"
            self._unit = unit_of(ref.pixels, trainer.model.config.likelihood, ref.levels).key
            self._epochs = [dict(e) for e in trainer.history["epochs"]]
            self._progress = float(trainer.state["epoch"])
        latent_map = self._live.at_epoch(trainer.model, int(trainer.state["epoch"]))  # before any (further) training
        with self._lock:
            self._map = latent_map

    def _on_step(self, rec: dict) -> None:
        if self._stop.is_set():
            self.trainer.stop()
        progress = rec["epoch"] + 1.0 / self.trainer.batches_per_epoch()
        refreshed = self._live.with_new_weights(self.trainer.model, self._map, progress)  # only this thread sets _map
        with self._lock:
            if refreshed is not None:
                self._map = refreshed
            if not self._epochs:  # until a test evaluation exists, show the training batch's KL
                self._kl_per_dim = rec["kl_per_dim"]
            self._live_rate = rec["samples_per_sec"]
            self._progress = progress

    def _on_epoch(self, rec: dict) -> None:
        latent_map = self._live.at_epoch(self.trainer.model, rec["epoch"])
        with self._lock:  # the epoch's numbers and its map appear together
            self._epochs.append(dict(rec))
            self._run_epoch_rates.append(rec["samples_per_sec"])
            if rec.get("kl_per_dim"):
                self._kl_per_dim = list(rec["kl_per_dim"])
            self._progress = float(rec["epoch"])
            self._map = latent_map
