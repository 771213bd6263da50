"""A model-agnostic training loop that reports through callbacks (the shape of minGPT's trainer).

Events: "step" after every optimiser step, "epoch" after each epoch's test evaluation, "end" once.
Each callback gets a plain dict record; the CLI prints from them and the app draws from them.

  step:  step (steps done), epoch (fractional, when the step began), recon, kl, bound (batch means, nats;
         Terms.bound: the ELBO, or the IWAE bound when iwae_k > 1), beta, kl_per_dim (list, D), samples_per_sec
  epoch: epoch, step, beta, train_recon, train_kl, train_bound, bound_name, test_elbo (the ELBO), test_recon, test_kl
         (None without a test set), kl_per_dim (test set), wall_time, samples_per_sec
  end:   status, message, epoch, step, batch, wall_time

The loop lives here; history, finiteness guards (finite), DDP (distributed) and seeds (model.seeds) apart.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..data.base import ImageDataset
from ..data.pixels import BatchTransform
from ..model.devices import resolve_device
from ..model.latent_model import LatentModel
from ..model.objectives import bound_name, warmup_beta
from ..model.seeds import TRAIN_EVAL, TRAIN_STEP, mix_seed
from . import distributed
from .config import TrainConfig, check_kind_options
from .finite import FiniteSteps, TrainingDiverged, check_loss
from .history import add_step, open_history
from .terms import LossModule, evaluate_terms

Callback = Callable[[dict], None]


@dataclass
class _Run:
    """What one fit() works with."""
    world: int
    rank: int
    train_x: torch.Tensor
    test_x: torch.Tensor
    loss_module: nn.Module
    params: list[torch.Tensor]
    batches: int  # optimiser steps per epoch
    warmup_steps: int
    t0: float = 0.0  # when the current epoch's clock started
    seen: int = 0  # examples this fit() has trained on in the current epoch


class Trainer:
    """Fits a model; fires "step", "epoch" and "end" callbacks (keys in the module docstring).

    history = {"steps", "epochs", "state"} (explorer.train.history); self.state *is* history["state"], so a
    checkpoint written at any callback holds, with the optimizer state, what a resume needs to end with
    the same weights and history as an uninterrupted run.
    """

    def __init__(self, model: LatentModel, data: ImageDataset, config: TrainConfig, transform: BatchTransform,
                 optimizer_state: dict | None = None, history: dict | None = None):
        check_kind_options(model.config.kind, config)
        self.config = config
        self.transform = transform  # the pixel rule and a DAE's corruption: the loop knows neither
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.data = data
        self.optimizer = _adam(list(self.model.parameters()), config.lr, self.device)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
            for g in self.optimizer.param_groups:  # a saved state carries its kernel choice; use ours
                g["fused"] = self.optimizer.defaults["fused"]
        self.history = open_history(history, config.iwae_k)
        self.state = self.history["state"]  # one dict, never copied by hand
        self.callbacks: dict[str, list[Callback]] = defaultdict(list)
        self.stop_event = threading.Event()  # set() from any thread to stop before the next step
        self.status = "idle"  # idle | running | stopped | finished | diverged | failed
        self.message = ""
        # Training noise (z draws, the transform's pixel noise and DAE masks) comes from this generator, reseeded
        # from (seed, step, rank) before every step: a run is reproducible on CPU, a resume continues it
        # exactly, and other threads using the global RNG (the app) change nothing.
        self.generator = torch.Generator(device=self.device)
        self._steps = FiniteSteps(self.optimizer)

    # -- public -----------------------------------------------------------------------------------
    def add_callback(self, event: str, fn: Callback) -> "Trainer":
        if event not in ("step", "epoch", "end"):
            raise ValueError(f"unknown event {event!r}")
        self.callbacks[event].append(fn)
        return self

    def stop(self) -> None:
        """Ask fit() to stop before its next step (safe from any thread); fit() then returns."""
        self.stop_event.set()

    def batches_per_epoch(self) -> int:
        """Optimiser steps per epoch for this data, batch size and number of processes."""
        return distributed.batches_per_epoch(len(self.data.train_x), self.config.batch_size, distributed.world()[0])

    def fit(self) -> "Trainer":
        """Train until config.epochs are done, stop() is called, or the loss diverges."""
        run = self._start()
        self.status, self.message = "running", ""
        self.stop_event.clear()  # a stop() aimed at an earlier run (or none) does not end this one
        self.model.train()
        run.t0 = time.perf_counter()
        try:
            while self.status == "running" and self.state["epoch"] < self.config.epochs:
                self._epoch(run)
            if self.status == "running":
                self.status, self.message = "finished", f"finished {self.config.epochs} epochs"
        except TrainingDiverged as e:
            self.status, self.message = "diverged", str(e)
            raise
        except BaseException as e:
            self.status, self.message = "failed", f"{type(e).__name__}: {e}"
            raise
        finally:
            self._end(run)
        return self

    def evaluate(self, x: torch.Tensor, seed: int = 0) -> dict[str, Any]:
        """Mean single-sample ELBO, reconstruction and KL terms (nats) and per-dimension KL on x (z drawn
        from a generator seeded with seed, so the numbers do not depend on when they are asked for)."""
        return evaluate_terms(self.model, x, self.config.eval_batch_size, seed)

    # -- the loop, one level per method ----------------------------------------------------------
    def _start(self) -> _Run:
        """The tensors, wrapper and counts of a fit() (its checks fail before any step)."""
        world, rank = distributed.world()
        train_x = self.data.train_x.to(self.device)
        if len(train_x) < 1:
            raise ValueError(f"dataset {self.data.name!r} has no training images")
        test_x = self.transform.test(self.data.test_x).to(self.device)  # fixed noise: the same on every device
        params = self._steps.flatten([p for p in self.model.parameters() if p.requires_grad])  # before DDP wraps them
        loss_module: nn.Module = LossModule(self.model)
        if world > 1:
            loss_module = nn.parallel.DistributedDataParallel(loss_module)
        batches = self.batches_per_epoch()
        return _Run(world, rank, train_x, test_x, loss_module, params, batches,
                    int(round(self.config.warmup_epochs * batches)))

    def _epoch(self, run: _Run) -> None:
        """The rest of the current epoch (from state["batch"]), then its test evaluation."""
        epoch = self.state["epoch"]
        order = distributed.epoch_order(len(run.train_x), self.config.seed, epoch).to(self.device)
        run.t0, run.seen = time.perf_counter(), 0
        self.state.setdefault("partial", {}).setdefault("sums", dict.fromkeys(("recon", "kl", "bound", "n"), 0.0))
        for b in range(self.state["batch"], run.batches):
            self._step(run, order, b)
            if self.status != "running":
                return
        wall, run.t0 = time.perf_counter() - run.t0, time.perf_counter()
        self.state["wall_time"] += wall
        self.state["epoch"], self.state["batch"] = epoch + 1, 0
        sums = self.state["partial"].pop("sums")
        beta = warmup_beta(self.config.beta, max(0, self.state["step"] - 1), run.warmup_steps)  # the last step's
        if run.rank == 0:
            rec = self._epoch_record(epoch + 1, sums, run.test_x, wall, run.seen, beta)
            self.history["epochs"].append(rec)
            self._fire("epoch", rec)
            self.model.train()

    def _step(self, run: _Run, order: torch.Tensor, b: int) -> None:
        """One optimiser step on batch b of the epoch (or, when asked to, status "stopped" instead)."""
        cfg, step, epoch = self.config, self.state["step"], self.state["epoch"]
        # With several processes the ranks decide together after the forward pass (distributed.agree):
        # one rank stopping alone would leave the others waiting in the next all-reduce.
        if run.world == 1 and self.stop_event.is_set():
            self.status, self.message = "stopped", f"stopped at step {step}"
            return
        self.generator.manual_seed(mix_seed(cfg.seed, TRAIN_STEP, step, run.rank))
        batch, idx = distributed.shard(order, b, cfg.batch_size, run.world, run.rank)
        inputs, x = self.transform.train(run.train_x[idx], self.generator)  # fresh noise every visit
        beta = warmup_beta(cfg.beta, step, run.warmup_steps)
        out = run.loss_module(inputs, x, beta, cfg, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss = distributed.shard_weighted(out["loss"], len(idx), len(batch), run.world)
        if run.world > 1:
            stop, bad_loss = distributed.agree(loss, self.stop_event.is_set())
            if stop or bad_loss is not None:
                # DDP's forward left its reducer waiting for this step's gradient all-reduce: finish it on
                # every rank and throw the gradients away, so no collective is left half done.
                loss.backward()
                self.optimizer.zero_grad(set_to_none=True)
            if stop:
                self.status, self.message = "stopped", f"stopped at step {step}"
                return
        else:
            bad_loss = None if math.isfinite(value := loss.item()) else value  # one sync, no isfinite tensor
        check_loss(bad_loss, step, epoch)
        loss.backward()
        self._steps.step(run.params, step, epoch)
        self.state["step"], self.state["batch"] = step + 1, b + 1
        run.seen += len(batch)
        self._record_step(run, out, len(x), beta, b)

    def _record_step(self, run: _Run, out: dict, shard: int, beta: float, b: int) -> None:
        """The step into the epoch's sums and the binned history, then the "step" callbacks (rank 0)."""
        rec = {k: out[k].item() for k in ("recon", "kl", "bound")}
        sums = self.state["partial"]["sums"]
        for k, v in rec.items():
            sums[k] += v * shard
        sums["n"] += shard
        if run.rank != 0:
            return
        elapsed = time.perf_counter() - run.t0
        rec.update(step=self.state["step"], epoch=self.state["epoch"] + b / run.batches, beta=beta,
                   kl_per_dim=out["kl_per_dim"].tolist(), samples_per_sec=run.seen / elapsed if elapsed > 0 else 0.0)
        add_step(self.history, rec)
        self._fire("step", rec)

    def _epoch_record(self, epoch: int, sums: dict, test_x: torch.Tensor, wall: float, seen: int,
                      beta: float) -> dict:
        seed = mix_seed(self.config.seed, TRAIN_EVAL, epoch)
        test = self.evaluate(test_x, seed=seed) if len(test_x) else {}
        n = max(1.0, sums["n"])
        return {"epoch": epoch, "step": self.state["step"], "beta": beta,
                "train_recon": sums["recon"] / n, "train_kl": sums["kl"] / n, "train_bound": sums["bound"] / n,
                "bound_name": bound_name(self.config.iwae_k),
                "test_elbo": test.get("elbo"), "test_recon": test.get("recon"), "test_kl": test.get("kl"),
                "kl_per_dim": test.get("kl_per_dim", []), "wall_time": wall,
                "samples_per_sec": seen / wall if wall > 0 else 0.0}

    def _end(self, run: _Run) -> None:
        if self.status != "finished":  # the unfinished epoch's time so far
            self.state["wall_time"] += time.perf_counter() - run.t0
        self.model.eval()
        if run.rank == 0:
            self._fire("end", {"status": self.status, "message": self.message,
                               **{k: v for k, v in self.state.items() if k != "partial"}})

    def _fire(self, event: str, rec: dict) -> None:
        for fn in self.callbacks[event]:
            fn(rec)


def _adam(params: list[nn.Parameter], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam; on the CPU its fused kernel where this torch has one (2.4+): the same update in one pass
    over the weights instead of about ten (BENCHMARKS.md, "Training throughput", has the step times)."""
    if device.type == "cpu":
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch: no fused CPU Adam
            pass
    return torch.optim.Adam(params, lr=lr)
