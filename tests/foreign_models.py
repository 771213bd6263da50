"""VAEs written as other people's code writes them, for the import tests: the pytorch/examples VAE (one module
with encode and decode, two heads, a sigmoid output) and a convolutional VAE in the Keras example's style
(separate encoder and decoder, a log-variance head, a sigmoid output)."""
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
