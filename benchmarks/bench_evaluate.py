"""Throughput of importance-sampled log p(x) (explorer.evaluation.log_likelihood) on the MNIST test set.

The model is the 784-200-200-50 tanh MLP VAE with a Bernoulli decoder (random weights: the cost does not
depend on them). Times a subset and extrapolates to the full 10,000-image test set at the same k.

    python -m benchmarks.bench_evaluate --n 500 --k 5000 --threads 2   (from the repository root)

Prints wall time and process CPU time (on a shared machine, CPU time / threads is roughly what an idle
machine's wall time would be; the load average is printed to judge that).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import explorer
from explorer.data.ref import DatasetRef
from explorer.evaluation import log_likelihood
from explorer.evaluation.likelihood import DEFAULT_ROWS

FULL_TEST_SET = 10_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500, help="test images to time")
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-rows", type=int, default=DEFAULT_ROWS["cpu"])
    p.add_argument("--generic", action="store_true", help="time the generic decode().log_prob path instead")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = explorer.build_model(explorer.ModelConfig(latent_dim=50, hidden=(200, 200), activation="tanh"))
    x = DatasetRef("mnist", "binarized").scored(explorer.load_dataset("mnist", test_only=True).test_x)[:args.n]
    log_likelihood(model, x[:2], min(args.k, 100), use_fast_path=not args.generic)  # warm-up
    load_before = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    ll = log_likelihood(model, x, args.k, max_rows=args.max_rows, use_fast_path=not args.generic)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    load_after = os.getloadavg()
    rate = args.n / wall
    print(f"{args.n} images, k = {args.k}, {args.threads} threads, max_rows {args.max_rows}, "
          f"{'generic' if args.generic else 'fast'} path; torch {torch.__version__}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"wall {wall:.2f} s -> {rate:.2f} images/s, {args.n * args.k / wall / 1e6:.3f} M decoder evaluations/s")
    print(f"process CPU time {cpu:.2f} s ({cpu / wall:.2f} cores busy on average)")
    print(f"extrapolated full test set ({FULL_TEST_SET} images): {FULL_TEST_SET / rate:.0f} s wall, "
          f"{FULL_TEST_SET / args.n * cpu / args.threads:.0f} s if the CPU time were spread evenly over "
          f"{args.threads} idle cores")
    print(f"mean log p(x) {ll.mean():.3f} ± {ll.mean_stderr():.3f}")


if __name__ == "__main__":
    main()
