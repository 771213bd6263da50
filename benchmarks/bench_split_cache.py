"""A whole split on the map, as the app gets it (jobs.map_points.SplitEncodings): reading and scoring the images,
then the encoding cold (an empty cache folder: encoded in chunks), warm from the file cache (a new server process:
memory empty, the file that `encode --split` and `warm --splits` also write), and from memory (a second visitor of
the same server). Each repeat starts from a fresh cache folder; medians over the repeats, in one run.

    python -m benchmarks.bench_split_cache trained/mnist_vae2.safetensors --split both --data-dir ../shared/data --repeats 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from explorer import load_model
from explorer.data.ref import DatasetRef
from explorer.data.splits import load_split_images, scored_split
from explorer.jobs.map_points import SplitEncodings
from explorer.store import map_cache
from explorer.store.file_cache import CACHE_ENV


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--split", default="both", choices=["test", "train", "both"])
    p.add_argument("--data-dir", default=None, help="the folder holding the data set's training files")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint).eval()
    ref = DatasetRef.of(model)
    times: dict[str, list[float]] = {"read and score the images": [], "cold: encode": [],
                                     "warm: read the file cache": [], "memory: a second visitor": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            os.environ[CACHE_ENV] = cache
            map_cache._memory.clear()
            t = time.perf_counter()
            x = scored_split(ref, load_split_images(ref, args.split, args.data_dir))
            times["read and score the images"].append(time.perf_counter() - t)
            name = map_cache.split_encoding_name(args.checkpoint, model, args.split)
            for label, shared in (("cold: encode", SplitEncodings()), ("warm: read the file cache", SplitEncodings())):
                map_cache._memory.clear()  # a new server process: only the file is left
                t = time.perf_counter()
                enc = shared.get("key", model, x, name)
                times[label].append(time.perf_counter() - t)
            t = time.perf_counter()
            assert shared.get("key", model, x, name) is enc
            times["memory: a second visitor"].append(time.perf_counter() - t)
    print(f"{args.checkpoint}: {len(x):,} images (split {args.split}), latent {model.latent_dim}-D, "
          f"torch threads {torch.get_num_threads()}, {args.repeats} repeats")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:28s} median {med[k]:9.4f} s   ({', '.join(f'{s:.4f}' for s in v)})")
    print(f"split-cache: {len(x):,} images cold {med['cold: encode']:.2f} s, warm "
          f"{med['warm: read the file cache']:.3f} s, memory {med['memory: a second visitor'] * 1e6:.0f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
