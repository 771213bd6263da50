"""What a job is asked to do (JobSpec), and the Trainer, data and DatasetRef that make it real."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..data import ImageDataset, load_training_data
from ..data.pixels import BatchTransform, resolve_pixels
from ..data.ref import DatasetRef
from ..model.config import ModelConfig
from ..model.imported import check_trainable
from ..model.latent_model import build_model
from ..store.checkpoint import load_checkpoint
from ..train.trainer import TrainConfig, Trainer
from ..train.memory import data_bytes
from .admission import check_training_memory


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


def build_trainer(spec: JobSpec) -> tuple[Trainer, ImageDataset, DatasetRef]:
    """Load the data and build (or load, for resume_from) the model; runs on the job's worker thread."""
    opt_state, history = None, None
    if spec.resume_from:
        ckpt = load_checkpoint(spec.resume_from)
        check_trainable(ckpt.model, str(spec.resume_from))
        model, opt_state = ckpt.model, ckpt.optimizer_state
        history = model.metadata.get("history")
        tc = dict(model.metadata.get("train_config", {}))
        tc.update(epochs=spec.train.epochs, device=spec.train.device)
        config = TrainConfig.from_dict(tc)
        check_training_memory(model.config, config, 0)  # before the data: the model is what can be huge
        named = ckpt.dataset if ckpt.dataset.name else replace(ckpt.dataset, name=spec.dataset)
        data = named.load_training(spec.data_dir, spec.download)
        ref = DatasetRef.for_training(data, model.pixels, model.config.likelihood, ckpt.dataset.test_seed,
                                      model.levels)
    else:
        data = load_training_data(spec.dataset, spec.data_dir, spec.download)
        # as the CLI does: a seed gives the same initial weights (the generator is process-wide,
        # so this is exact when one training runs at a time)
        torch.manual_seed(spec.train.seed)
        mc = ModelConfig(image_shape=data.image_shape, **spec.model)
        check_training_memory(mc, spec.train, data_bytes(data))  # before a weight is allocated
        ref = DatasetRef.for_training(data, spec.pixels, mc.likelihood)
        model = build_model(mc, pixels=ref.pixels, levels=ref.levels)
        config = spec.train
    trainer = Trainer(model, data, config, BatchTransform.for_model(model, ref.test_seed), optimizer_state=opt_state,
                      history=history)
    return trainer, data, ref
