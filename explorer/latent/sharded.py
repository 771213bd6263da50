"""Encode many images over the processes torchrun started: the images cut into fixed chunks, chunk k encoded
by rank k % world, and rank 0 given every row in the images' order. One process runs the same chunks, so its
result is the same to the bit: each chunk is one encoder batch whatever the number of processes."""
from __future__ import annotations

import numpy as np
import torch

from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..model.progress import Progress, report
from ..train.distributed import gather_rows, world

CHUNK = 1000  # images per encoder batch: encode()'s own default, so a cached test-split encoding is the same


def my_chunks(n: int, chunk: int, world_size: int, rank: int) -> list[slice]:
    """The chunks of n images this rank encodes: every world_size-th one, from its rank."""
    starts = range(rank * chunk, n, world_size * chunk)
    return [slice(s, min(s + chunk, n)) for s in starts]


@torch.no_grad()
def encode_sharded(model: LatentModel, x: torch.Tensor, chunk: int = CHUNK,
                   progress: Progress | None = None) -> Encoding | None:
    """q(z|x) means and stds of every image: the whole Encoding at rank 0 (and in a single process), None at
    the other ranks. Each rank reports progress on its own share."""
    world_size, rank = world()
    mine = my_chunks(len(x), chunk, world_size, rank)
    d = model.latent_dim
    rows = []
    total, done = sum(s.stop - s.start for s in mine), 0
    for s in mine:  # a count, not a percentage: the app's bar and the CLI's say how many of how many
        report(progress, done / max(total, 1), f"Encoding images: {done:,} of {total:,}")
        enc = encode(model, x[s], batch_size=chunk)
        rows.append(torch.from_numpy(np.concatenate([enc.mean, enc.std], axis=1)))
        done += s.stop - s.start
    report(progress, 1.0, f"Encoded {len(x):,} images")
    local = torch.cat(rows) if rows else torch.zeros((0, 2 * d))
    dev = next(model.parameters()).device
    parts = gather_rows(local.to(dev) if dev.type == "cuda" else local)  # nccl moves GPU tensors only
    if parts is None:
        return None
    out = torch.zeros((len(x), 2 * d))
    for r, part in enumerate(parts):  # rank r's rows are its chunks, in order
        done = 0
        for s in my_chunks(len(x), chunk, world_size, r):
            out[s] = part[done:done + s.stop - s.start]
            done += s.stop - s.start
    out = out.numpy()
    return Encoding(np.ascontiguousarray(out[:, :d]), np.ascontiguousarray(out[:, d:]))
