"""The metadata a training writes beside its weights, built once for the CLI and the app's jobs."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .data.ref import DatasetRef
from .trainer import Trainer
from .units import unit_fields, unit_of


def run_metadata(trainer: Trainer, ref: DatasetRef, status: str) -> dict[str, Any]:
    """dataset (the DatasetRef), train_config, history, status and metrics with their unit, for save_model."""
    metrics = trainer.final_metrics()
    if metrics:
        metrics.update(unit_fields(unit_of(ref.pixels, trainer.model.config.likelihood)))
    return {"dataset": ref.to_dict(), "train_config": asdict(trainer.config), "history": trainer.history,
            "status": status, "metrics": metrics}
