"""What a training run leaves behind: the metrics block, the JSON summary, and the checkpoint metadata
(built once here for the CLI and the app's jobs)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..data.ref import DatasetRef
from ..data.units import unit_fields, unit_of
from .trainer import Trainer


def final_metrics(trainer: Trainer) -> dict[str, Any]:
    """The metrics block a checkpoint carries: the last epoch's test terms and the training time."""
    epochs = trainer.history["epochs"]
    if not epochs:
        return {}
    last = epochs[-1]
    return {"test_elbo": last["test_elbo"], "test_recon": last["test_recon"], "test_kl": last["test_kl"],
            "epochs": last["epoch"], "train_wall_time_s": trainer.state["wall_time"]}


def summary(trainer: Trainer) -> dict[str, Any]:
    """A JSON summary: config, per-epoch wall time and samples per second, final test terms."""
    epochs = trainer.history["epochs"]
    return {"status": trainer.status, "message": trainer.message, "train_config": asdict(trainer.config),
            "device": str(trainer.device), "epochs": [
                {k: e[k] for k in ("epoch", "wall_time", "samples_per_sec", "train_bound", "bound_name", "test_elbo")}
                for e in epochs],
            "final": epochs[-1] if epochs else None, "total_wall_time": trainer.state["wall_time"]}


def run_metadata(trainer: Trainer, ref: DatasetRef, status: str) -> dict[str, Any]:
    """dataset (the DatasetRef), train_config, history (its state included: trainer.state is
    history["state"]), status and metrics with their unit, for save_model."""
    metrics = final_metrics(trainer)
    if metrics:
        metrics.update(unit_fields(unit_of(ref.pixels, trainer.model.config.likelihood, ref.levels)))
    return {"dataset": ref.to_dict(), "train_config": asdict(trainer.config), "history": trainer.history,
            "status": status, "metrics": metrics}
