"""Datasets as in-memory tensors: images float in [0, 1], shape (N, C, H, W)."""
from .base import ImageDataset
from .decode import image_from_bytes, match_background
from .download import DataNotFound
from .registry import DATASETS, load_dataset
from .training import bundled_mnist_split, load_training_data

__all__ = ["ImageDataset", "image_from_bytes", "match_background", "DataNotFound", "DATASETS",
           "load_dataset", "bundled_mnist_split", "load_training_data"]
