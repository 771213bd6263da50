"""VAEs written as other people's code writes them, for the import tests: the pytorch/examples VAE (one module
with encode and decode, two heads, a sigmoid output) and a convolutional VAE in the Keras example's style
(separate encoder and decoder, a log-variance head, a sigmoid output); for the page's ONNX reader also hand-written
MatMul weights with torch's chunk and a channels-last colour model."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py (BSD-3): 784-400-20, encode -> (mu, logvar), decode -> probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


class KerasStyleEncoder(nn.Module):
    """keras.io's VAE: two stride-2 convolutions, a dense layer, then z_mean and z_log_var heads."""

    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
                                   nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                   nn.Linear(64 * 7 * 7, 16), nn.ReLU())
        self.z_mean, self.z_log_var = nn.Linear(16, latent), nn.Linear(16, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(x)
        return self.z_mean(h), self.z_log_var(h)


class KerasStyleDecoder(nn.Module):
    """Dense to a 7x7x64 map, two stride-2 transposed convolutions, a sigmoid image."""

    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent, 64 * 7 * 7), nn.ReLU())
        self.deconvs = nn.Sequential(nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.deconvs(self.fc(z).view(-1, 64, 7, 7)))


def examples_vae(seed: int = 0) -> ExamplesVAE:
    torch.manual_seed(seed)
    return ExamplesVAE().eval()


def keras_style_vae(seed: int = 0, latent: int = 2) -> tuple[KerasStyleEncoder, KerasStyleDecoder]:
    torch.manual_seed(seed)
    return KerasStyleEncoder(latent).eval(), KerasStyleDecoder(latent).eval()


class MatMulVAE(nn.Module):
    """Hand-written weights (x @ W + b: MatMul and Add in ONNX), one encoder output split in half (mean and log
    standard deviation), LeakyReLU 0.2 and ELU 0.5 (alphas the page must carry), logits out."""

    def __init__(self, pixels: int = 36, hidden: int = 24, latent: int = 3) -> None:
        super().__init__()
        self.w1, self.b1 = nn.Parameter(torch.randn(pixels, hidden) / 6), nn.Parameter(torch.randn(hidden))
        self.w2, self.b2 = nn.Parameter(torch.randn(hidden, 2 * latent) / 5), nn.Parameter(torch.randn(2 * latent))
        self.w3, self.b3 = nn.Parameter(torch.randn(latent, hidden)), nn.Parameter(torch.randn(hidden))
        self.w4, self.b4 = nn.Parameter(torch.randn(hidden, pixels) / 5), nn.Parameter(torch.randn(pixels))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.leaky_relu(x.reshape(-1, 36) @ self.w1 + self.b1, 0.2)
        mean, logstd = (h @ self.w2 + self.b2).chunk(2, dim=1)
        return mean, logstd

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (F.elu(z @ self.w3 + self.b3, 0.5) @ self.w4 + self.b4).view(-1, 1, 6, 6)


class ChannelsLastEncoder(nn.Module):
    """Colour images as (N, H, W, C) (Keras' and TensorFlow's order): a Transpose into the convolution."""

    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.head = nn.Linear(4 * 4 * 4, 2 * latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(x.permute(0, 3, 1, 2)))
        return F.softplus(self.head(h.permute(0, 2, 3, 1).flatten(1)))  # mean_std: a positive second half


class ChannelsLastDecoder(nn.Module):
    """z -> (N, H, W, 2C): a mean and a log-variance per colour channel, channels last."""

    def __init__(self, latent: int = 2) -> None:
        super().__init__()
        self.dense = nn.Linear(latent, 4 * 4 * 4)
        self.up = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(F.relu(self.dense(z)).view(-1, 4, 4, 4)).permute(0, 2, 3, 1)


def matmul_vae(seed: int = 0) -> MatMulVAE:
    """Import with image_shape (1, 6, 6), encoder_output="mean_logstd", likelihood="bernoulli_logits"."""
    torch.manual_seed(seed)
    return MatMulVAE().eval()


def channels_last_vae(seed: int = 0) -> tuple[ChannelsLastEncoder, ChannelsLastDecoder]:
    """Import with image_shape (3, 8, 8), encoder_output="mean_std", likelihood="gaussian_mean_logvar",
    layout="nhwc"."""
    torch.manual_seed(seed)
    return ChannelsLastEncoder().eval(), ChannelsLastDecoder().eval()
