"""`encode CKPT --out codes.npz`: posterior means and stds of a data set's test split, training split or both,
with labels and indices, in chunks with a progress bar. Under `torchrun --nproc_per_node N -m explorer encode`
the chunks are shared over the processes (gloo on CPU, nccl on GPUs) and rank 0 writes the one file, the same
bytes as a single process writes."""
from __future__ import annotations

import argparse
import os
import time

import torch.distributed as dist

from ..data.ref import DatasetRef
from ..data.splits import SPLITS, load_split
from ..latent.sharded import CHUNK
from ..model.devices import resolve_device
from ..model.progress import tqdm_bar
from ..store.codes_file import codes_metadata, read_codes, write_codes
from ..store.map_cache import cached_split_encoding, split_encoding_name
from ..store.outputs import check_writable
from .common import join_process_group, add_images, apply_threads, check_images_fit, model_with_images, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="posterior means and stds of a data set into codes.npz (also under torchrun)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", help="a .safetensors checkpoint or an imported .vaex model")
    p.add_argument("--dataset", default=None, help="the data set the model names (default: that one); a check")
    p.add_argument("--split", default="test", help=f"which images: {', '.join(SPLITS)} (test first, then train)")
    p.add_argument("--n", type=positive_int, default=None, help="only the first N images of the split")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="directory holding the dataset files (the training split)")
    p.add_argument("--out", default="codes.npz", help="the codes file to write")
    p.add_argument("--chunk", type=positive_int, default=CHUNK, help="images per encoder batch (and per shard)")
    p.add_argument("--check", default=None, metavar="CODES",
                   help="instead of encoding: check that CODES was written by this model, and describe it")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for PyTorch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    if args.split not in SPLITS:  # before torchrun's processes meet: every rank says the same line
        raise ValueError(f"--split must be one of {', '.join(SPLITS)}; got {args.split!r}")
    if args.check:
        return check(args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        join_process_group(args)
    try:
        return _encode(args, dist.get_rank() if dist.is_initialized() else 0)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _encode(args: argparse.Namespace, rank: int) -> int:
    check_writable(args.out, what="--out")
    device = resolve_device(args.device)
    model = model_with_images(args, device).eval()
    ref = DatasetRef.of(model)
    if args.dataset is not None and not args.images and args.dataset != ref.name:
        raise ValueError(f"{args.checkpoint} was trained on {ref.name}, not {args.dataset}: its codes of "
                         f"{args.dataset} would mean nothing (leave out --dataset, or give --images)")
    data = load_split(ref, args.split, args.data_dir).first(args.n)
    check_images_fit(model, data.x, ref.split)
    world_size = dist.get_world_size() if dist.is_initialized() else 1
    if rank == 0:
        print(f"{model.describe()}\nencoding {len(data.x):,} images ({ref.split}, split {args.split}, "
              f"{ref.pixels}) on {device} with {world_size} process(es)", flush=True)
    name = split_encoding_name(args.checkpoint, model, args.split, args.n, args.images, args.chunk)
    t0 = time.perf_counter()
    with tqdm_bar(args.quiet or rank != 0) as bar:
        enc = cached_split_encoding(model, data.x, name, bar, args.chunk)
    if enc is not None:  # rank 0 alone has the whole encoding
        write_codes(args.out, enc, data, codes_metadata(args.checkpoint, model, args.split, args.images))
        print(f"wrote {len(enc.mean):,} codes to {args.out} ({time.perf_counter() - t0:.2f} s)", flush=True)
    if dist.is_initialized():
        dist.barrier()  # a rank that exits first makes torchrun stop the one still writing
    return 0


def check(args: argparse.Namespace) -> int:
    """--check CODES: a one-line error (exit 2) unless CODES holds this checkpoint's codes."""
    codes = read_codes(args.check, args.checkpoint)
    m = codes.meta
    print(f"{args.check}: {m['n']:,} codes ({m['latent_dim']}-D) of {m['test_split']}, split {m['split']}, "
          f"{m['pixels']}, by {args.checkpoint} (digest {m['digest']})")
    return 0
