"""Encoder and decoder bodies: MLP and a small convolutional pair. They output raw parameters;
turning them into distributions is the model's job."""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU,
                      "softplus": nn.Softplus}


def activation(name: str) -> nn.Module:
    return ACTIVATION_MODULES[name]()


class MLPEncoder(nn.Module):
    """(N, C, H, W) -> (N, out_dim)."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...], act: str, out_dim: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(image_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), activation(act)]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPDecoder(nn.Module):
    """(N, latent) -> (N, out_channels, H, W); hidden sizes run in reverse of the encoder's."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...], act: str, latent_dim: int,
                 out_channels: int):
        super().__init__()
        c, h, w = image_shape
        self.out_shape = (out_channels, h, w)
        layers: list[nn.Module] = []
        width = latent_dim
        for size in reversed(hidden):
            layers += [nn.Linear(width, size), activation(act)]
            width = size
        layers.append(nn.Linear(width, out_channels * h * w))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.out_shape)  # len, not -1: N may be 0


class ConvEncoder(nn.Module):
    """Stride-2 4x4 convolutions (each halves H and W), then a linear head."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], act: str, out_dim: int):
        super().__init__()
        c, h, w = image_shape
        if min(h, w) < 2 ** len(channels):  # each layer maps a side s to floor(s / 2) and needs s >= 2
            raise ValueError(f"image {tuple(image_shape)} is too small for {len(channels)} conv layers "
                             f"(each halves H and W; the shortest side must be at least {2 ** len(channels)})")
        layers: list[nn.Module] = []
        for ch in channels:
            layers += [nn.Conv2d(c, ch, 4, stride=2, padding=1), activation(act)]
            c, h, w = ch, h // 2, w // 2
        self.convs = nn.Sequential(*layers)
        self.feat_shape = (c, h, w)
        self.head = nn.Linear(c * h * w, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x).flatten(1))


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder with transposed convolutions; resized to the exact image size at the end."""

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, ...], act: str, latent_dim: int,
                 out_channels: int, feat_shape: tuple[int, int, int]):
        super().__init__()
        self.image_hw = tuple(image_shape[1:])
        self.feat_shape = feat_shape
        self.fc = nn.Sequential(nn.Linear(latent_dim, math.prod(feat_shape)), activation(act))
        layers: list[nn.Module] = []
        chans = list(reversed(channels))
        for i, ch in enumerate(chans):
            nxt = chans[i + 1] if i + 1 < len(chans) else out_channels
            layers.append(nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1))
            if i + 1 < len(chans):
                layers.append(activation(act))
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.deconvs(self.fc(z).view(len(z), *self.feat_shape))
        if tuple(out.shape[-2:]) != self.image_hw:  # odd sizes don't halve exactly
            out = F.interpolate(out, size=self.image_hw, mode="bilinear", align_corners=False)
        return out
