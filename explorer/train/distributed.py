"""Which examples each process trains on, and the ranks' vote to stop, under DistributedDataParallel.

With one process (the app, a plain `train`) every function here is the plain case: one rank, whole batches.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist

from ..model.seeds import TRAIN_ORDER, mix_seed


def world() -> tuple[int, int]:
    """(number of processes, this one's rank); (1, 0) without torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def batches_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps in an epoch of n examples; the one count the trainer, the CLI's bar and the app use."""
    if batch_size < world_size:
        raise ValueError(f"batch size {batch_size} is smaller than the {world_size} processes sharing it")
    batches = math.ceil(n / batch_size)
    if 0 < n % batch_size < world_size:
        batches -= 1  # a last batch too small to give every rank an example is dropped
    return batches


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The epoch's order of the n examples: it depends on (seed, epoch) only, so a resume finds its place."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(seed, TRAIN_ORDER, epoch)))


def shard(order: torch.Tensor, b: int, batch_size: int, world_size: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch b's indices, this rank's share of them: every world_size-th one)."""
    batch = order[b * batch_size:(b + 1) * batch_size]
    return batch, batch[rank::world_size]


def shard_weighted(loss: torch.Tensor, shard_size: int, batch_size: int, world_size: int) -> torch.Tensor:
    """The shard's mean loss weighted by its share of the batch: DDP averages gradients over ranks, and
    with this weighting that average is the gradient of the whole batch's mean."""
    return loss if world_size == 1 else loss * (shard_size * world_size / batch_size)


def agree(loss: torch.Tensor, stop_requested: bool) -> tuple[bool, float | None]:
    """(stop, the non-finite loss or None) as every rank sees it: whether any rank asked to stop, and
    the worst non-finite loss of any rank (nan before inf before -inf).

    Each rank would otherwise decide alone, and a rank that stops or raises before backward leaves the
    others waiting forever in DDP's gradient all-reduce. One small MAX all-reduce per step, only with
    several processes. (Gradients and weights need no vote: DDP makes them the same on every rank.)
    """
    with torch.no_grad():
        loss = loss.detach()
        flags = torch.stack([loss.new_tensor(float(stop_requested)), loss.isnan(), loss.isposinf(),
                             loss.isneginf()]).float()
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, nan, posinf, neginf = (v > 0 for v in flags.tolist())
    bad = math.nan if nan else math.inf if posinf else -math.inf if neginf else None
    return stop, bad


def gather_rows(rows: torch.Tensor) -> list[torch.Tensor] | None:
    """Every rank's rows (n_r, K), each rank's n_r its own, at rank 0 in rank order (None elsewhere).

    An all_gather of rows padded to the longest: gloo and nccl both have it (nccl wants rows on this rank's
    GPU), and the padding is cut off again with the sizes gathered first."""
    world_size, rank = world()
    if world_size == 1:
        return [rows]
    size = torch.tensor([len(rows)], device=rows.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    counts = [int(s) for s in sizes]
    padded = rows.new_zeros((max(counts), *rows.shape[1:]))
    padded[:len(rows)] = rows
    bucket = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(bucket, padded)
    return [b[:c].cpu() for b, c in zip(bucket, counts)] if rank == 0 else None
