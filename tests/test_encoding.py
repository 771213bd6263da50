"""Encoding a data set and decoding latents, against models whose answers are known by construction."""
import numpy as np
import torch
from torch import nn

from explorer.model.config import ModelConfig
from explorer.model.distributions import PointMass, diagonal_normal
from explorer.model.encoding import decode_images, encode, weights_fingerprint
from explorer.model.latent_model import build_model


class PixelEncoder(nn.Module):
    """q(z|x) = N(2 x[:3] - 1, (1/2 + x[3:6])^2) on the first six pixels (a point mass at the mean for an AE):
    the answer for every image is known without running a network."""

    latent_dim = 3

    def __init__(self, variational: bool = True):
        super().__init__()
        self.variational = variational
        self.unused = nn.Parameter(torch.zeros(1))  # encode() reads the device from the parameters

    def encode(self, x: torch.Tensor):
        f = x.flatten(1)
        loc = 2 * f[:, :3] - 1
        return diagonal_normal(loc, 0.5 + f[:, 3:6]) if self.variational else PointMass(loc)


def test_encode_gives_every_images_posterior_in_order_across_batches():
    x = torch.arange(25 * 36, dtype=torch.float32).reshape(25, 1, 6, 6) / 1000
    rows = 36 * np.arange(25)[:, None]  # index of each image's first pixel
    want_mean = 2 * (rows + np.arange(3)) / 1000 - 1
    want_std = 0.5 + (rows + 3 + np.arange(3)) / 1000
    e = encode(PixelEncoder(), x, batch_size=7)  # batches of 7, 7, 7, 4
    assert e.mean.dtype == e.std.dtype == np.float32 and e.mean.shape == e.std.shape == (25, 3)
    np.testing.assert_allclose(e.mean, want_mean, atol=1e-6)
    np.testing.assert_allclose(e.std, want_std, atol=1e-6)  # the std, not the variance
    ae = encode(PixelEncoder(variational=False), x)
    np.testing.assert_allclose(ae.mean, want_mean, atol=1e-6)
    assert (ae.std == 0).all()
    empty = encode(PixelEncoder(), x[:0])
    assert empty.mean.shape == empty.std.shape == (0, 3)


def test_decode_images_is_the_bernoulli_mean_of_known_weights():
    # decoder z -> relu(z1) -> logits relu(z1) on every pixel, so the mean image is sigmoid(relu(z1))
    m = build_model(ModelConfig(image_shape=(1, 2, 3), latent_dim=2, hidden=(1,), activation="relu"))
    first, last = m.decoder.net[0], m.decoder.net[2]
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0]]))
        first.bias.zero_()
        last.weight.fill_(1.0)
        last.bias.zero_()
    z = torch.tensor([[np.log(3.0), 7.0], [0.0, -7.0], [-5.0, 1.0]], dtype=torch.float64)
    out = decode_images(m, z)
    assert out.shape == (3, 1, 2, 3) and out.dtype == torch.float32
    want = torch.tensor([0.75, 0.5, 0.5]).view(3, 1, 1, 1).expand(3, 1, 2, 3)
    torch.testing.assert_close(out, want)


def test_weights_fingerprint_is_the_sum_of_absolute_weights():
    m = build_model(ModelConfig(image_shape=(1, 6, 6), latent_dim=3, hidden=(8,)))
    n = m.num_parameters()
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(-0.5)
    assert weights_fingerprint(m) == f"{0.5 * n:.10e}"
    with torch.no_grad():
        next(m.parameters())[0, 0] = 1.5  # |w| grows by 1
    assert weights_fingerprint(m) == f"{0.5 * n + 1:.10e}"
