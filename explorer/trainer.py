"""A model-agnostic training loop that reports through callbacks (the shape of minGPT's trainer).

Events: "step" after every optimiser step, "epoch" after each epoch's test evaluation, "end" once.
Each callback gets a plain dict record; the CLI prints from them and the app draws from them.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import torch
from torch import nn
import torch.distributed as dist

from .data.base import ImageDataset, binarize
from .devices import resolve_device
from .model import LatentModel
from .objectives import ESTIMATORS, objective, warmup_beta

Callback = Callable[[dict], None]
HISTORY_POINTS = 2000  # step records kept in a history (binned means), so checkpoints stay small


class TrainingDiverged(RuntimeError):
    """The loss or gradients became non-finite; the model holds the last good weights."""


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
    binarize: str = "auto"  # auto (dynamic for a Bernoulli decoder) | dynamic | none
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.binarize not in ("auto", "dynamic", "none"):
            raise ValueError(f"binarize must be auto, dynamic or none, got {self.binarize!r}")
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


class LossModule(nn.Module):
    """Puts the objective inside forward(), which DistributedDataParallel needs to sync gradients."""

    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, target: torch.Tensor, beta: float, cfg: TrainConfig) -> dict:
        t = objective(self.model, x, target, estimator=cfg.estimator, samples=cfg.samples, beta=beta,
                      iwae_k=cfg.iwae_k)
        return {"loss": t.loss, "recon": t.recon.mean(), "kl": t.kl.mean(), "elbo": t.elbo.mean(),
                "kl_per_dim": t.kl_per_dim.mean(0)}


class Trainer:
    def __init__(self, model: LatentModel, data: ImageDataset, config: TrainConfig,
                 optimizer_state: dict | None = None, history: dict | None = None):
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.data = data
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.history = history or {"steps": [], "epochs": []}
        self.state = dict(self.history.get("state", {"epoch": 0, "step": 0, "batch": 0, "wall_time": 0.0}))
        self.callbacks: dict[str, list[Callback]] = defaultdict(list)
        self.stop_event = threading.Event()  # set() from any thread to stop after the current step
        self.status = "idle"  # idle | running | stopped | finished | diverged
        self.message = ""
        self._bin: dict[str, float] = defaultdict(float)
        self._bin_n = 0

    # -- public -----------------------------------------------------------------------------------
    def add_callback(self, event: str, fn: Callback) -> "Trainer":
        if event not in ("step", "epoch", "end"):
            raise ValueError(f"unknown event {event!r}")
        self.callbacks[event].append(fn)
        return self

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def binarized(self) -> bool:
        b = self.config.binarize
        return b == "dynamic" or (b == "auto" and self.model.config.likelihood == "bernoulli")

    def fit(self) -> "Trainer":
        """Train until config.epochs are done, stop() is called, or the loss diverges."""
        cfg = self.config
        world, rank = _world()
        # Reproducible on CPU, also after a resume; each rank draws its own noise (rank 0 = one process).
        torch.manual_seed((cfg.seed + self.state["step"]) * world + rank)
        train_x = self.data.train_x.to(self.device)
        if len(train_x) < 1:
            raise ValueError(f"dataset {self.data.name!r} has no training images")
        test_x = self.data.test_x.to(self.device)
        if self.binarized:
            test_x = binarize(test_x, seed=1234)  # binarized once, fixed seed
        loss_module: nn.Module = LossModule(self.model)
        if world > 1:
            loss_module = nn.parallel.DistributedDataParallel(loss_module)
        n = len(train_x)
        if cfg.batch_size < world:
            raise ValueError(f"batch size {cfg.batch_size} is smaller than the {world} processes sharing it")
        batches = math.ceil(n / cfg.batch_size)
        if 0 < n % cfg.batch_size < world:
            batches -= 1  # a last batch too small to give every rank an example is dropped
        total_steps = cfg.epochs * batches
        self._every = max(1, total_steps // HISTORY_POINTS)
        warmup_steps = int(round(cfg.warmup_epochs * batches))
        self.status, self.message = "running", ""
        self.stop_event.clear()
        self.model.train()
        try:
            while self.state["epoch"] < cfg.epochs:
                epoch = self.state["epoch"]
                perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
                perm = perm.to(self.device)
                t0, seen = time.perf_counter(), 0
                sums: dict[str, float] = defaultdict(float)
                for b in range(self.state["batch"], batches):
                    if self.stop_event.is_set():
                        self.status, self.message = "stopped", f"stopped at step {self.state['step']}"
                        return self
                    batch_idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                    idx = batch_idx[rank::world]
                    x = train_x[idx]
                    if self.binarized:
                        x = torch.bernoulli(x)  # dynamic binarization: a fresh draw every visit
                    beta = warmup_beta(cfg.beta, self.state["step"], warmup_steps)
                    out = loss_module(self.model.corrupt(x), x, beta, cfg)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss = out["loss"]
                    if world > 1:  # DDP averages gradients over ranks; weighting by shard size makes
                        loss = loss * (len(idx) * world / len(batch_idx))  # that the whole batch's mean
                    if not torch.isfinite(loss):
                        raise TrainingDiverged(f"loss became {loss.item()} at step {self.state['step']} "
                                               f"(epoch {epoch + 1}); weights kept from the last good step. "
                                               "Try a lower learning rate.")
                    loss.backward()
                    gnorm = nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
                    if not torch.isfinite(gnorm):
                        self.optimizer.zero_grad(set_to_none=True)
                        raise TrainingDiverged(f"gradients became non-finite at step {self.state['step']} "
                                               f"(epoch {epoch + 1}); weights kept from the last good step. "
                                               "Try a lower learning rate.")
                    self.optimizer.step()
                    seen += len(batch_idx)
                    self.state["step"] += 1
                    self.state["batch"] = b + 1
                    rec = {k: out[k].item() for k in ("recon", "kl", "elbo")}
                    for k, v in rec.items():
                        sums[k] += v * len(x)
                    sums["n"] += len(x)
                    if rank == 0:
                        elapsed = time.perf_counter() - t0
                        rec.update(step=self.state["step"], epoch=epoch + b / batches, beta=beta,
                                   kl_per_dim=out["kl_per_dim"].tolist(),
                                   samples_per_sec=seen / elapsed if elapsed > 0 else 0.0)
                        self._record_step(rec)
                        self._fire("step", rec)
                wall = time.perf_counter() - t0
                self.state["wall_time"] += wall
                self.state["epoch"], self.state["batch"] = epoch + 1, 0
                if rank == 0:
                    rec = self._epoch_record(epoch + 1, sums, test_x, wall, seen, beta)
                    self.history["epochs"].append(rec)
                    self._fire("epoch", rec)
                    self.model.train()
            self.status, self.message = "finished", f"finished {cfg.epochs} epochs"
        except TrainingDiverged as e:
            self.status, self.message = "diverged", str(e)
            raise
        finally:
            self.model.eval()
            self.history["state"] = dict(self.state)
            if rank == 0:
                self._fire("end", {"status": self.status, "message": self.message, **self.state})
        return self

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor) -> dict[str, Any]:
        """Mean single-sample ELBO, reconstruction and KL terms (nats) and per-dimension KL on x."""
        self.model.eval()
        sums: dict[str, Any] = defaultdict(float)
        for i in range(0, len(x), self.config.eval_batch_size):
            xb = x[i:i + self.config.eval_batch_size]
            t = objective(self.model, xb, estimator="analytic")
            sums["elbo"] += t.elbo.sum().item()
            sums["recon"] += t.recon.sum().item()
            sums["kl"] += t.kl.sum().item()
            sums["kl_per_dim"] = sums["kl_per_dim"] + t.kl_per_dim.sum(0)
        n = max(1, len(x))
        out = {k: (v / n) for k, v in sums.items()}
        out["kl_per_dim"] = (out["kl_per_dim"].tolist() if torch.is_tensor(out["kl_per_dim"]) else [])
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON summary: config, per-epoch wall time and samples per second, final test terms."""
        epochs = self.history["epochs"]
        return {"status": self.status, "message": self.message, "train_config": asdict(self.config),
                "device": str(self.device), "epochs": [
                    {k: e[k] for k in ("epoch", "wall_time", "samples_per_sec", "train_elbo", "test_elbo")}
                    for e in epochs],
                "final": epochs[-1] if epochs else None, "total_wall_time": self.state["wall_time"]}

    # -- internals --------------------------------------------------------------------------------
    def _epoch_record(self, epoch: int, sums: dict, test_x: torch.Tensor, wall: float, seen: int,
                      beta: float) -> dict:
        test = self.evaluate(test_x) if len(test_x) else {}
        n = max(1.0, sums["n"])
        return {"epoch": epoch, "step": self.state["step"], "beta": beta,
                "train_recon": sums["recon"] / n, "train_kl": sums["kl"] / n, "train_elbo": sums["elbo"] / n,
                "test_elbo": test.get("elbo"), "test_recon": test.get("recon"), "test_kl": test.get("kl"),
                "kl_per_dim": test.get("kl_per_dim", []), "wall_time": wall,
                "samples_per_sec": seen / wall if wall > 0 else 0.0}

    def _record_step(self, rec: dict) -> None:
        """Keep binned means of step records so a long run's history stays about HISTORY_POINTS long."""
        for k in ("recon", "kl", "elbo", "beta"):
            self._bin[k] += rec[k]
        self._bin_n += 1
        if self._bin_n >= getattr(self, "_every", 1):
            point = {k: v / self._bin_n for k, v in self._bin.items()}
            point.update(step=rec["step"], epoch=rec["epoch"])
            self.history["steps"].append(point)
            self._bin.clear()
            self._bin_n = 0

    def _fire(self, event: str, rec: dict) -> None:
        for fn in self.callbacks[event]:
            fn(rec)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0
