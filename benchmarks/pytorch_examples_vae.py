"""A model trained by another program's code: the pytorch/examples VAE, trained with that example's own loop and
loss, exported to ONNX with torch.onnx.export as its user would, and imported with explorer.from_onnx into
trained/pytorch_examples_vae.vaex (trained/README.md gives the commands and what they printed; its metrics come
from `python -m explorer evaluate FILE --update-checkpoint`, as every bundled model's do).

    python -m benchmarks.pytorch_examples_vae --data-dir ../shared/data/mnist --work /tmp/pytorch_examples_vae

The model (VAE), loss_function, train and test below are written from pytorch/examples' vae/main.py at commit
77f55b912142e11fcfdf5b530231fb9c52f181e8 (https://github.com/pytorch/examples/blob/77f55b9/vae/main.py), not
imported: only torchvision's MNIST loader is replaced, by the same IDX files read as the same tensors (ToTensor's
grey levels x / 255, file order) in a DataLoader with the same batch size and shuffling, so on the CPU the random
stream is the example's. That code is under the BSD 3-Clause licence:

    Copyright (c) 2017, Pytorch contributors. All rights reserved.
    Redistribution and use in source and binary forms, with or without modification, are permitted provided that
    the following conditions are met: 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer. 2. Redistributions in binary form must reproduce the above
    copyright notice, this list of conditions and the following disclaimer in the documentation and/or other
    materials provided with the distribution. 3. Neither the name of the copyright holder nor the names of its
    contributors may be used to endorse or promote products derived from this software without specific prior
    written permission.
    THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED
    WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
    PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT,
    INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
    SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
    THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN
    ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

import explorer
from benchmarks.bench_train import ExampleVAE, example_loss

UPSTREAM = "https://github.com/pytorch/examples/blob/77f55b912142e11fcfdf5b530231fb9c52f181e8/vae/main.py"
LICENCE = "BSD-3-Clause, Copyright (c) 2017, Pytorch contributors"


# ---- from pytorch/examples vae/main.py (BSD-3-Clause, see above) ----
# The model and its loss are bench_train's copy of the example (the same layers, made in the same order, so the
# same seed gives the same weights); the loop below is the example's own.
VAE, loss_function = ExampleVAE, example_loss


def train(model, optimizer, train_loader, epoch, log_interval=10):
    model.train()
    train_loss = 0
    for batch_idx, (data,) in enumerate(train_loader):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if log_interval and batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item() / len(data)))
    print('====> Epoch: {} Average loss: {:.4f}'.format(epoch, train_loss / len(train_loader.dataset)), flush=True)
    return train_loss / len(train_loader.dataset)


def test(model, test_loader):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for data, in test_loader:
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
    test_loss /= len(test_loader.dataset)
    print('====> Test set loss: {:.4f}'.format(test_loss), flush=True)
    return test_loss
# ---- end of the example's code ----


def run_example(mnist, work: Path, epochs: int, seed: int, log_interval: int) -> tuple[VAE, list, float]:
    """The example's __main__ loop (its order of random draws kept), with a checkpoint after every epoch so a
    killed run resumes where it stopped. mnist: explorer.load_dataset("mnist"), images (N, 1, 28, 28) in [0, 1]
    as the example's ToTensor gives them. Returns the model, the per-epoch losses and the training time."""
    torch.manual_seed(seed)
    train_loader = DataLoader(TensorDataset(mnist.train_x), batch_size=128, shuffle=True)
    test_loader = DataLoader(TensorDataset(mnist.test_x), batch_size=128, shuffle=False)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    ckpt, history, wall, start = work / "example_checkpoint.pt", [], 0.0, 1
    if ckpt.is_file():  # our own file, read without unpickling code (weights_only)
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        history, wall, start = state["history"], state["wall"], state["epoch"] + 1
        print(f"resuming after epoch {state['epoch']} from {ckpt}")
    for epoch in range(start, epochs + 1):
        t0 = time.perf_counter()
        train_loss = train(model, optimizer, train_loader, epoch, log_interval)
        wall += time.perf_counter() - t0
        test_loss = test(model, test_loader)
        with torch.no_grad():  # the example decodes 64 prior samples into a picture here: same draws, no picture
            model.decode(torch.randn(64, 20))
        history.append({"epoch": epoch, "step": epoch * len(train_loader), "train_loss": train_loss,
                        "test_loss": test_loss})
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                    "history": history, "wall": wall, "epoch": epoch}, tmp)
        os.replace(tmp, ckpt)
    return model.eval(), history, wall


class Method(nn.Module):
    """One method of the example's VAE as a module, for torch.onnx.export (as a user of the example writes it)."""

    def __init__(self, vae: VAE, method: str):
        super().__init__()
        self.vae, self.method = vae, method

    def forward(self, x):
        return getattr(self.vae, self.method)(x)


def export_onnx(model: VAE, work: Path) -> tuple[Path, Path]:
    """encoder.onnx: x (N, 784) -> mu, logvar (N, 20); decoder.onnx: z (N, 20) -> probabilities (N, 784).
    torch's default (dynamo) exporter writes weights to a .data file beside the graph unless told not to, and
    the explorer refuses a graph that points outside itself: external_data=False keeps them inside."""
    batch = torch.export.Dim("batch")
    enc, dec = work / "encoder.onnx", work / "decoder.onnx"
    torch.onnx.export(Method(model, "encode").eval(), (torch.zeros(2, 784),), enc, input_names=["x"],
                      output_names=["mu", "logvar"], dynamic_shapes=({0: batch},), external_data=False)
    torch.onnx.export(Method(model, "decode").eval(), (torch.zeros(2, 20),), dec, input_names=["z"],
                      output_names=["probs"], dynamic_shapes=({0: batch},), external_data=False)
    return enc, dec


def largest_difference(model: VAE, imported, x: torch.Tensor) -> float:
    """How far the imported model's encode (mean, std) and decode (probabilities) are from the torch module's."""
    with torch.no_grad():
        mu, logvar = model.encode(x.view(-1, 784))
        q = imported.encode(x)
        probs = imported.decode(mu).base_dist.probs.reshape(len(x), 784)
        return max(float((q.mean - mu).abs().max()), float((q.stddev - torch.exp(0.5 * logvar)).abs().max()),
                   float((probs - model.decode(mu)).abs().max()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder holding MNIST's four IDX files")
    p.add_argument("--work", default="/tmp/pytorch_examples_vae", help="checkpoint and ONNX files")
    p.add_argument("--out", default="trained/pytorch_examples_vae.vaex")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1, help="the example's torch.manual_seed")
    p.add_argument("--log-interval", type=int, default=0, help="the example prints every 10 batches; 0: never")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    mnist = explorer.load_dataset("mnist", data_dir=args.data_dir)
    model, history, wall = run_example(mnist, work, args.epochs, args.seed, args.log_interval)
    enc, dec = export_onnx(model, work)
    m = explorer.from_onnx(enc, dec, image_shape=(1, 28, 28), encoder_output="mean_logvar",
                           likelihood="bernoulli_probs", dataset=mnist.describe(), pixels="grey")
    diff = largest_difference(model, m, mnist.test_x[:1000])
    print(f"imported vs torch on 1000 test images: largest difference {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit(f"the imported model disagrees with the torch modules by {diff:.2e} (> 1e-5)")
    # the example's printed losses, and the same numbers as the explorer's history reads them (ELBO = -loss)
    epochs = [{**h, "bound_name": "ELBO", "train_bound": -h["train_loss"],
               "test_elbo": -h["test_loss"]} for h in history]
    trained_by = {"program": "pytorch/examples vae/main.py", "url": UPSTREAM, "licence": LICENCE,
                  "script": "benchmarks/pytorch_examples_vae.py", "epochs": args.epochs, "batch_size": 128,
                  "lr": 1e-3, "seed": args.seed, "threads": args.threads, "train_wall_time_s": wall,
                  "torch": torch.__version__, "onnx_export": "torch.onnx.export (dynamo), external_data=False",
                  "import_check": {"test_images": 1000, "max_abs_difference": diff}}
    path = explorer.save_model(m, args.out, history={"epochs": epochs}, trained_by=trained_by)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
