"""Which test images a model is scored on: binarized as the trainer binarized them, or its grey levels."""
import pytest
import torch

from explorer import analysis
from explorer.config import ModelConfig
from explorer.data.base import binarize
from explorer.model import build_model


@pytest.mark.parametrize("likelihood, binarize_opt, expected", [
    ("bernoulli", "auto", True), ("gaussian", "auto", False), ("gaussian", "dynamic", True),
    ("bernoulli", "none", False)])
def test_trained_binarized_follows_the_trainer(likelihood, binarize_opt, expected):
    m = build_model(ModelConfig(image_shape=(1, 6, 6), latent_dim=2, hidden=(4,), likelihood=likelihood))
    m.metadata = {"train_config": {"binarize": binarize_opt}}
    assert analysis.trained_binarized(m) is expected
    x = torch.rand(10, 1, 6, 6)
    want = binarize(x, seed=analysis.TEST_BINARIZE_SEED) if expected else x
    torch.testing.assert_close(analysis.likelihood_images(m, x), want)
