"""One image, one posterior: q(z|x) of a test image or of a person's own picture, as every page gets it.

The encoder sees the image the likelihood scores (the model's DatasetRef: binarized or dequantized with the
test set's fixed seed, or grey), so a posterior and the ELBO and log p(x) beside it are of
the same image on every page. Pictures shown to a person may stay grey."""
from __future__ import annotations

import numpy as np
import torch

from explorer.data.ref import DatasetRef
from explorer.model.encoding import encode
from explorer.model.latent_model import LatentModel
from explorer.ui.state import caches


def test_image(model: LatentModel, dataset: str, index: int) -> torch.Tensor:
    """Test image index as the likelihood sees it, (C, H, W)."""
    return caches.likelihood_images(model, dataset)[index]


def test_posterior(model: LatentModel, key: str, dataset: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of q(z|x) of test image index: its row of the cached encoding the map is drawn from, so
    the map, its panel and the other pages show the same numbers."""
    enc = caches.encoding(model, key, dataset)
    return enc.mean[index], enc.std[index]


def own_image(model: LatentModel, x: torch.Tensor) -> torch.Tensor:
    """A drawing or an upload (C, H, W) as the likelihood sees it: the test images' rule, so its numbers
    compare with theirs."""
    return DatasetRef.of(model).scored(x[None])[0]


def own_posterior(model: LatentModel, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of q(z|x) of a drawing or an upload."""
    q = encode(model, own_image(model, x)[None])
    return q.mean[0], q.std[0]
