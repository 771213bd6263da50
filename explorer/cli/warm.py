"""`warm --models A B --projections pca,tsne,umap`: do before class what the map's first visitor would wait
for. Each checkpoint's test-set encoding and its slow maps (t-SNE, UMAP, on as many points as the map starts
with) go to the file cache the app reads (explorer.store.file_cache: EXPLORER_CACHE_DIR); a UMAP also leaves numba's
compiled kernels in numba's own cache (NUMBA_CACHE_DIR, for those UMAP marks cache=True)."""
from __future__ import annotations

import argparse
import time

import torch

from ..data.ref import DatasetRef
from ..data.splits import load_split
from ..latent.map import default_points
from ..latent.projection import available_projections
from ..model.devices import resolve_device
from ..model.progress import tqdm_bar
from ..store import file_cache
from ..store.checkpoint import load_checkpoint
from ..store.map_cache import (cached_encoding, cached_projection, cached_split_encoding, encoding_name,
                               split_encoding_name)
from .common import apply_threads, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("warm", help="compute the map's encodings and projections ahead, into the app's file cache",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", nargs="+", required=True,
                   help="checkpoints (.safetensors, or .vaex from import-onnx) the class will open")
    p.add_argument("--projections", default="pca,tsne,umap",
                   help="comma-separated: pca, tsne, umap (those a model's latent offers; a 2-D latent needs none)")
    p.add_argument("--points", type=positive_int, default=None,
                   help="test images per map (default: as many as the map starts with, e.g. 2,000 for t-SNE)")
    p.add_argument("--splits", default="", help="also encode these whole splits for `encode` (comma-separated: "
                   "train, both; the training split is read from --data-dir)")
    p.add_argument("--data-dir", default=None, help="directory holding the dataset files (the training split)")
    p.add_argument("--device", default="auto", help="the device the server encodes on (auto, cpu, cuda, mps)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for PyTorch")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    wanted = [m.strip() for m in args.projections.split(",") if m.strip()]
    unknown = set(wanted) - {"pca", "tsne", "umap"}
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(sorted(unknown))}; choose from pca, tsne, umap")
    splits = [m.strip() for m in args.splits.split(",") if m.strip()]
    if set(splits) - {"test", "train", "both"}:
        raise ValueError(f"--splits takes test, train, both; got {args.splits!r}")
    device = resolve_device(args.device)
    print(f"cache folder: {file_cache.cache_dir()}")
    for path in args.models:
        warm_one(path, wanted, device, args.points, args.quiet)
        for split in splits:
            warm_split(path, split, device, args.data_dir, args.quiet)
    return 0


def warm_split(path: str, split: str, device: torch.device, data_dir: str | None, quiet: bool) -> None:
    """The encoding `encode PATH --split split` reads, into the file cache."""
    model = load_checkpoint(path, device=device).model.eval()
    x = load_split(DatasetRef.of(model), split, data_dir).x
    t0 = time.perf_counter()
    with tqdm_bar(quiet) as bar:
        cached_split_encoding(model, x, split_encoding_name(path, model, split), bar)
    print(f"  encoding of {len(x):,} images (split {split}) ready ({time.perf_counter() - t0:.1f} s)")


def warm_one(path: str, wanted: list[str], device: torch.device, points: int | None, quiet: bool) -> None:
    """One checkpoint: its encoding, then each wanted projection its latent offers."""
    model = load_checkpoint(path, device=device).model.eval()
    ref = DatasetRef.of(model)
    x = ref.scored(ref.load_test().test_x)  # the images the app's map encodes (caches.likelihood_images)
    name = encoding_name(path, model)
    print(f"{path}: {model.describe()}")
    t0 = time.perf_counter()
    with tqdm_bar(quiet) as bar:
        enc = cached_encoding(model, x, name, bar)
    print(f"  encoding of {len(x):,} test images ready ({time.perf_counter() - t0:.1f} s)")
    offered = available_projections(model.latent_dim)
    for method in wanted:
        if method not in offered:
            why = "a 2-D latent is its own map" if model.latent_dim <= 2 else "umap-learn is not installed"
            print(f"  {method}: skipped ({why})")
            continue
        n = min(points or default_points(method, len(x)), len(x))
        t0 = time.perf_counter()
        with tqdm_bar(quiet) as bar:
            cached_projection(enc.mean[:n], method, name, bar)
        print(f"  {method} map of {n:,} points ready ({time.perf_counter() - t0:.1f} s)")
