"""A torchrun entry point for tests/test_distributed.py: scenarios in which the ranks see different things.

  cli ARGS...       `python -m explorer train ARGS...`, with one training image made NaN (env POISON_STEP,
                    1-based step of epoch 1) so that only rank 1's shard of that step has a non-finite loss.
  stop RANK STEP    Trainer.fit on 160 digits, where only rank RANK asks to stop, during step STEP + 1;
                    every rank prints one line "RESULT {json}" with its status, message, step and weights.
"""
from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist

import explorer.cli.train as cli_train
from explorer.cli import exit_process, main
from explorer.data import load_dataset
from explorer.data.base import ImageDataset
from explorer.data.pixels import BatchTransform
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.train.distributed import epoch_order
from explorer.train.trainer import TrainConfig, Trainer


def poison_rank1(data: ImageDataset, step: int, batch_size: int, seed: int, world: int = 2) -> int:
    """Set one pixel to NaN in the first image rank 1 takes at `step` (1-based) of epoch 1; return its index."""
    n = len(data.train_x)
    perm = epoch_order(n, seed, 0)  # Trainer.fit's order
    batch_idx = perm[(step - 1) * batch_size:step * batch_size]
    i = int(batch_idx[1::world][0])
    assert i not in batch_idx[0::world].tolist()
    data.train_x[i, 0, 0, 0] = float("nan")
    return i


def run_cli(argv: list[str]) -> int:
    step = int(os.environ["POISON_STEP"])
    batch_size = int(argv[argv.index("--batch-size") + 1])
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 0
    real = cli_train.load_dataset

    def poisoned(*args, **kwargs) -> ImageDataset:
        data = real(*args, **kwargs)
        poison_rank1(data, step, batch_size, seed)
        return data

    cli_train.load_dataset = poisoned
    return main(["train", *argv])


def run_stop(stopper: int, stop_step: int) -> int:
    dist.init_process_group("gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    digits = load_dataset("digits")
    data = ImageDataset("digits", digits.train_x[:160], None, digits.test_x[:50], None)
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(32,)))
    t = Trainer(model, data, TrainConfig(epochs=3, batch_size=40, lr=3e-3, device="cpu", eval_batch_size=32),
                BatchTransform("binarized"))
    if rank == stopper:
        if rank == 0:  # step callbacks fire on rank 0 only
            t.add_callback("step", lambda r: r["step"] == stop_step and t.stop())
        else:  # elsewhere: during the next step's forward pass (the transform runs once per step)
            real, calls = t.transform, [0]

            class Stopping:
                def train(self, *args, **kwargs):
                    calls[0] += 1
                    if calls[0] == stop_step + 1:
                        t.stop()
                    return real.train(*args, **kwargs)

                def test(self, x):
                    return real.test(x)

            t.transform = Stopping()
    t.fit()
    checksum = sum(float(p.detach().double().sum()) for p in t.model.parameters())
    # One write per line: both ranks share torchrun's stdout, and print() may write the newline apart.
    sys.stdout.write("RESULT " + json.dumps({"rank": rank, "world": world, "status": t.status, "message": t.message,
                                             "step": t.state["step"], "checksum": checksum}) + "\n")
    sys.stdout.flush()
    dist.barrier()  # as the CLI does: a rank tearing gloo down while its peer still talks aborts the peer
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "cli":
        exit_process(run_cli(rest))
    if mode == "stop":
        exit_process(run_stop(int(rest[0]), int(rest[1])))
    sys.exit(f"unknown mode {mode!r}")
