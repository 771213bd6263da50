"""Training throughput: our Trainer against the pytorch/examples VAE loop, same model, same machine.

The baseline is pytorch/examples vae/main.py (784-400-20 MLP, ReLU, batch 128, Adam 1e-3, summed BCE +
KL) with its DataLoader loop, written without torchvision: a Dataset whose __getitem__ does what
torchvision's MNIST with transforms.ToTensor() does (uint8 tensor -> PIL image -> numpy copy -> float
tensor / 255). A second baseline row skips the PIL round trip (one uint8 image straight to a float
tensor): a lighter loader than the example's, which shows how much of the gap is data loading. Ours is the same architecture through explorer.Trainer on
grey levels (`--pixels grey`, as the baseline). Both are scored by one function: the per-example
negative ELBO on the test set, single z draw from a fixed seed, summed BCE on grey levels + closed-form
KL. Throughput counts training steps only (test evaluation excluded) for both, from the median
epoch; the loops alternate epoch by epoch so that load from other jobs falls on all alike. A third
loop, our model and objective with nothing but forward, backward and fused Adam, shows the floor the
Trainer's own per-step work (finiteness guard, records, callbacks) sits on.

    python -m benchmarks.bench_train --data-dir ../shared/data/mnist --epochs 3 --threads 2   (from the repo root)
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from explorer import ModelConfig, TrainConfig, Trainer, build_model, load_dataset
from explorer.data.idx import read_idx
from explorer.data.pixels import BatchTransform
from explorer.model.objectives import objective

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
BATCH, LR, LATENT = 128, 1e-3, 20


# -- the baseline, as in pytorch/examples vae/main.py -----------------------------------------------
class TorchvisionMNIST(Dataset):
    """torchvision.datasets.MNIST(transform=transforms.ToTensor()) step for step, as the example loads it:
    MNIST.__getitem__ makes a PIL image of the uint8 tensor, ToTensor (F.to_tensor) turns it back."""

    def __init__(self, images, labels):
        self.data, self.targets = torch.from_numpy(np.array(images)), torch.from_numpy(np.array(labels))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        img, target = self.data[i], int(self.targets[i])
        img = Image.fromarray(img.numpy())  # mode "L" for 2-D uint8 (torchvision passes it; Pillow 11.3 deprecates that)
        t = torch.from_numpy(np.array(img, np.uint8, copy=True))
        t = t.view(img.size[1], img.size[0], len(img.getbands())).permute((2, 0, 1)).contiguous()
        return t.to(dtype=torch.get_default_dtype()).div(255), target


class MNISTUint8(Dataset):
    """A lighter loader than the example's: one uint8 image -> a (1, 28, 28) float tensor, no PIL."""

    def __init__(self, images, labels):
        self.images, self.labels = np.array(images), labels  # a writable copy, as torchvision keeps one

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return torch.from_numpy(self.images[i]).float().div(255).unsqueeze(0), int(self.labels[i])


class ExampleVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def example_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    # Kingma & Welling 2014, appendix B
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


class Baseline:
    """The example's model, optimiser and loop; epoch() runs one epoch and returns its wall time (s)."""

    def __init__(self, data_dir: Path, seed: int, dataset: type[Dataset] = TorchvisionMNIST):
        torch.manual_seed(seed)
        images = read_idx(data_dir / "train-images-idx3-ubyte.gz")
        labels = read_idx(data_dir / "train-labels-idx1-ubyte.gz")
        self.loader = DataLoader(dataset(images, labels), batch_size=BATCH, shuffle=True)
        self.model = ExampleVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)

    def epoch(self) -> float:
        model, optimizer = self.model, self.optimizer
        model.train()
        train_loss, t0 = 0.0, time.perf_counter()
        for data, _ in self.loader:
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = example_loss(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        return time.perf_counter() - t0


# -- ours --------------------------------------------------------------------------------------------
class Ours:
    """The same network through explorer.Trainer; epoch() trains one more epoch (fit() resumes)."""

    def __init__(self, data, seed: int):
        torch.manual_seed(seed)
        self.model = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(400,), latent_dim=LATENT,
                                             likelihood="bernoulli", activation="relu"))
        self.trainer = Trainer(self.model, data, TrainConfig(epochs=1, batch_size=BATCH, lr=LR, seed=seed, device="cpu"),
                               BatchTransform("grey"))  # grey levels, as the baseline trains

    def epoch(self) -> float:
        t = self.trainer
        t.config = replace(t.config, epochs=t.state["epoch"] + 1)
        t.fit()
        return t.history["epochs"][-1]["wall_time"]  # training steps only, as for the baseline


class Bare:
    """Our model and objective in a bare loop: forward, backward, fused Adam, nothing else. Not a
    trainer (no finiteness guard, no records, no callbacks): the floor our Trainer's overhead sits on."""

    def __init__(self, data, seed: int):
        torch.manual_seed(seed)
        self.model = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(400,), latent_dim=LATENT,
                                             likelihood="bernoulli", activation="relu"))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR, fused=True)
        self.x = data.train_x
        self.gen = torch.Generator().manual_seed(seed)  # its own: the baseline's shuffles stay as they were

    def epoch(self) -> float:
        self.model.train()
        t0 = time.perf_counter()
        for idx in torch.randperm(len(self.x), generator=self.gen).split(BATCH):
            x = self.x[idx]
            loss = objective(self.model, x, x).loss
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - t0


# -- one yardstick for both --------------------------------------------------------------------------
@torch.no_grad()
def test_neg_elbo(encode: Callable, decode_probs: Callable, x: torch.Tensor, seed: int = 0) -> float:
    """Mean over x of BCE(sum over pixels) + KL(q(z|x) || N(0, I)), one z per image from a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for xb in x.split(1000):
        mu, std = encode(xb)
        z = mu + std * torch.randn(mu.shape, generator=gen)
        probs = decode_probs(z).reshape(len(xb), -1)
        bce = F.binary_cross_entropy(probs, xb.reshape(len(xb), -1), reduction="sum")
        kl = 0.5 * torch.sum(mu.pow(2) + std.pow(2) - 1 - 2 * std.log())
        total += (bce + kl).item()
    return total / len(x)


def baseline_score(model: ExampleVAE, x: torch.Tensor) -> float:
    model.eval()

    def enc(xb):
        mu, logvar = model.encode(xb.view(-1, 784))
        return mu, torch.exp(0.5 * logvar)
    return test_neg_elbo(enc, model.decode, x)


def our_score(model, x: torch.Tensor) -> float:
    model.eval()

    def enc(xb):
        q = model.encode(xb)
        return q.mean, q.stddev
    return test_neg_elbo(enc, lambda z: model.decode(z).mean, x)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="directory with the four MNIST .gz files")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads for both (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist", args.data_dir, download=False)
    n = len(data.train_x)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"MNIST {n} train / {len(data.test_x)} test, {args.epochs} epochs, batch {BATCH}")

    loops = {"base": Baseline(args.data_dir, args.seed), "light": Baseline(args.data_dir, args.seed, MNISTUint8),
             "ours": Ours(data, args.seed), "bare": Bare(data, args.seed)}
    walls: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(args.epochs):  # alternate epochs, so a busy spell on a shared machine hits all
        for key, loop in loops.items():
            walls[key].append(loop.epoch())
    rows = {"base": ("pytorch/examples VAE (its loader)", baseline_score(loops["base"].model, data.test_x)),
            "light": ("the same, lighter loader (no PIL)", baseline_score(loops["light"].model, data.test_x)),
            "ours": ("explorer Trainer", our_score(loops["ours"].model, data.test_x)),
            "bare": ("floor: bare loop, same model", our_score(loops["bare"].model, data.test_x))}
    rate = {}
    for key, (name, loss) in rows.items():
        w = walls[key]
        rate[key] = n / statistics.median(w)
        print(f"{name:34s} {rate[key]:7.0f} samples/s (median epoch; {n * len(w) / sum(w):.0f} over all)  "
              f"epochs {', '.join(f'{x:.2f}' for x in w)} s  test loss {loss:.3f} nats/example")
    lb, lo = rows["base"][1], rows["ours"][1]
    print(f"speed-up {rate['ours'] / rate['base']:.2f}x   test loss difference {100 * (lo - lb) / lb:+.2f}%   "
          f"(against the lighter loader: {rate['ours'] / rate['light']:.2f}x; the bare loop: "
          f"{rate['bare'] / rate['base']:.2f}x; the Trainer reaches {rate['ours'] / rate['bare']:.0%} of it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
