"""Datasets as in-memory tensors: images float in [0, 1], shape (N, C, H, W)."""
from .base import ImageDataset, binarize
from .registry import DATASETS, load_dataset

__all__ = ["ImageDataset", "binarize", "DATASETS", "load_dataset"]
