"""Per-step time of the Trainer against the bare loop of bench_train, and what its finiteness guard costs.

Three loops on the same MNIST batches of 128 (784-400-20 VAE, grey levels, fused Adam), alternated round
by round in one process so that load from other jobs falls on all of them: the bare loop (forward,
backward, optimizer.step()), Trainer._step as fit() runs it, and Trainer._step with the guard's
FiniteSteps.step replaced by a plain optimizer.step(). Medians over the rounds, microseconds a step.

    python -m benchmarks.bench_train_step --data-dir ../shared/data/mnist --threads 2   (from the repo root)
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.bench_train import BATCH, DEFAULT_DATA, LR, Bare, Ours
from explorer import load_dataset
from explorer.model.objectives import objective
from explorer.train import distributed


class Steps:
    """Trainer._step on consecutive batches of epoch 0; guard=False: a plain optimizer.step() instead."""

    def __init__(self, data, seed: int, guard: bool):
        self.trainer = t = Ours(data, seed).trainer
        self.run = t._start()
        t.status = "running"
        t.state["partial"]["sums"] = dict.fromkeys(("recon", "kl", "bound", "n"), 0.0)
        if not guard:
            t._steps.step = lambda params, step, epoch: t.optimizer.step()
        self.order = distributed.epoch_order(len(data.train_x), seed, 0)
        self.b = 0

    def steps(self, n: int) -> float:
        self.trainer.model.train()
        t0 = time.perf_counter()
        for _ in range(n):
            self.trainer._step(self.run, self.order, self.b % self.run.batches)
            self.b += 1
        return time.perf_counter() - t0


class BareSteps(Bare):
    """bench_train's bare loop, n steps at a time."""

    def steps(self, n: int) -> float:
        self.model.train()
        idx = torch.randperm(len(self.x), generator=self.gen)[:n * BATCH].split(BATCH)
        t0 = time.perf_counter()
        for i in idx:
            x = self.x[i]
            loss = objective(self.model, x, x).loss
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="directory with the four MNIST .gz files")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--steps", type=int, default=100, help="steps per loop per round")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("mnist", args.data_dir, download=False)
    loops = {"bare loop": BareSteps(data, args.seed), "Trainer": Steps(data, args.seed, guard=True),
             "Trainer without the guard": Steps(data, args.seed, guard=False)}
    us: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(args.rounds):
        for key, loop in loops.items():
            us[key].append(loop.steps(args.steps) / args.steps * 1e6)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, lr {LR}, "
          f"{args.rounds} rounds of {args.steps} steps")
    bare = statistics.median(us["bare loop"])
    for key, v in us.items():
        m = statistics.median(v)
        print(f"{key:26s} {m:7.0f} us/step (rounds {min(v):.0f}-{max(v):.0f})  bare loop / this {bare / m:.3f}")
    guard = statistics.median(us["Trainer"]) - statistics.median(us["Trainer without the guard"])
    print(f"the guard: {guard:.0f} us a step (difference of the medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
