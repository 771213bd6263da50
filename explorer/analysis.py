"""Which images a model is scored on: its test split by name, and whether (and how) its test images are
binarized the way the trainer binarized them.

Encodings, slider bases, samples and grids live in encoding, latent, sliders and mixture; the ELBO
terms the pages show live in evaluation.elbo.
"""
from __future__ import annotations

import re

import torch

from .data import ImageDataset, load_dataset
from .data.base import binarize
from .model import LatentModel
from .trainer import TEST_BINARIZE_SEED  # the trainer binarizes the test set once, with this seed


def model_dataset_name(model: LatentModel) -> str | None:
    """The model's test split as a name load_test_set understands: its data set's name, with "[k:]" when
    it trained on the first k standard test images (MNIST without its training files), so that no page
    or evaluation calls a training image a test image."""
    ds = model.metadata.get("dataset") or {}
    name, k = ds.get("name"), int(ds.get("test_from") or 0)
    return f"{name}[{k}:]" if name and k else name


def load_test_set(name: str, data_dir: str | None = None, download: bool = False) -> ImageDataset:
    """The test split the explorer maps; "mnist[8000:]" is MNIST's from image 8,000 on. From disk only by
    default: MNIST's 10,000 test images ship with the package; another data set's files must already be
    there (training fetches them), so a page never waits on a download that cannot happen offline."""
    m = re.fullmatch(r"(.+)\[(\d+):\]", name)
    base, k = (m.group(1), int(m.group(2))) if m else (name, 0)
    data = load_dataset(base, data_dir, test_only=True, download=download)
    if not k:
        return data
    if k >= len(data.test_x):
        raise ValueError(f"{name!r}: the {base} test split has only {len(data.test_x)} images")
    return ImageDataset(name, data.train_x, data.train_y, data.test_x[k:],
                        None if data.test_y is None else data.test_y[k:], data.classes, data.notes, k)


def trained_binarized(model: LatentModel) -> bool:
    """Whether the model saw binarized pixels in training (the trainer's rule for binarize='auto')."""
    b = (model.metadata.get("train_config") or {}).get("binarize", "auto")
    return b == "dynamic" or (b == "auto" and model.config.likelihood == "bernoulli")


def binarized_test(test_x: torch.Tensor) -> torch.Tensor:
    """The test set binarized exactly as the trainer does it: once, on the CPU, with a fixed seed."""
    return binarize(test_x.cpu(), seed=TEST_BINARIZE_SEED)


def likelihood_images(model: LatentModel, test_x: torch.Tensor) -> torch.Tensor:
    """The test images on which the trainer reported ELBOs: binarized for a model trained on binarized
    data, so numbers here match the model card; grey levels otherwise."""
    return binarized_test(test_x) if trained_binarized(model) else test_x
