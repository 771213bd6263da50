"""The widget's codes= argument: posterior means (and stds) already computed, from a codes.npz that `python -m
explorer encode` wrote, or from arrays, so a notebook maps 70,000 or a million points without encoding them. A
file is checked as the app checks an upload (store.codes_fit): untrusted numbers, the model's latent size, data
set and pixel rule; its images are found from its rows (the test split ships with MNIST; give data_dir for the
training split) unless they are given."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.ref import DatasetRef
from ..model.encoding import Encoding
from ..model.latent_model import LatentModel
from ..store.codes_file import Codes, read_codes
from ..store.codes_fit import check_fits, load_codes_images

Images = tuple[torch.Tensor, np.ndarray | None]


def codes_encoding(codes: Any, latent_dim: int) -> Encoding:
    """An array (N, D) of means, or a pair (means, stds), as an Encoding (stds 0 when not given); a ValueError
    in one line for anything else."""
    mean, std = (codes if isinstance(codes, tuple) and len(codes) == 2 else (codes, None))
    mean = _floats(mean, "codes")
    std = np.zeros_like(mean) if std is None else _floats(std, "the codes' stds")
    if mean.ndim != 2 or mean.shape[1] != latent_dim or std.shape != mean.shape:
        raise ValueError(f"codes must be (N, {latent_dim}) means, or a pair of (N, {latent_dim}) means and stds; got "
                         f"{mean.shape}" + ("" if std.shape == mean.shape else f" and {std.shape}"))
    if (std < 0).any():
        raise ValueError("the codes' stds must not be negative")
    return Encoding(mean, std)


def _floats(a: Any, what: str) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if a.dtype.kind not in "fiu" or not np.isfinite(a).all():
        raise ValueError(f"{what} must be finite numbers")
    return a.astype(np.float32)


def file_codes(model: LatentModel, codes: str | Path | Codes) -> Codes:
    """A codes file (or one read already) checked against the model: a CodesError naming what differs."""
    name = Path(codes).name if isinstance(codes, (str, Path)) else "the codes"
    read = codes if isinstance(codes, Codes) else read_codes(codes, name=name)
    check_fits(read, model, name=name)
    return read


def codes_images(codes: Codes, model: LatentModel, data_dir: str | None) -> Images:
    """The grey images and labels the file's rows stand for, from the model's data set (data_dir for a training
    split not in EXPLORER_DATA_DIR)."""
    grey, rows = load_codes_images(codes, DatasetRef.of(model), data_dir)
    labels = codes.labels if (codes.labels >= 0).any() else None
    return grey.x[rows].float(), labels
