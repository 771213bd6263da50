"""Datasets as in-memory tensors: images float in [0, 1], shape (N, C, H, W)."""
from .base import ImageDataset, binarize
from .decode import image_from_bytes, match_background
from .download import DataNotFound
from .registry import DATASETS, load_dataset

__all__ = ["ImageDataset", "binarize", "image_from_bytes", "match_background", "DataNotFound", "DATASETS", "load_dataset"]
