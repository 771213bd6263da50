"""Options shared by several subcommands."""
from __future__ import annotations

import argparse
import math
import sys

import torch

from ..model.devices import machine_cores
from ..store.checkpoint import load_model


def add_device_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--seed", type=int, default=0, help="random seed (a CPU run is reproducible)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads for PyTorch (default: all cores)")


def apply_threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        n = min(args.threads, machine_cores())  # OpenMP with 100,000 threads crashes the process
        if n < args.threads:
            print(f"note: --threads {args.threads:,} is more than this machine's {n} CPU cores; using {n}",
                  file=sys.stderr)
        torch.set_num_threads(n)


def finite_float(text: str) -> float:
    """A float that is a number: inf and nan are refused while the arguments are read."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return x


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def int_list(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not out:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return out


def strict_json(obj):
    """obj with every non-finite float as None: json.dumps would write NaN, which is not JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strict_json(v) for v in obj]
    return obj


def check_images_fit(model, images: torch.Tensor, dataset: str) -> None:
    """A ValueError when the dataset's images (N, C, H, W) are not the shape the model takes."""
    have, want = tuple(images.shape[1:]), tuple(model.config.image_shape)
    if have != want:
        raise ValueError(f"dataset {dataset!r} has images of shape {have}, but the model expects {want}")


def add_images(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", default=None, metavar="PATH",
                   help="your own images as the test images: a folder of pictures (or a .zip of one), an .npz or .npy array "
                        "(N,H,W), (N,C,H,W) or (N,H,W,C) with optional labels, or an IDX file; they must be the "
                        "model's size (default: the data set the model names)")


def model_with_images(args: argparse.Namespace, device: torch.device | str | None):
    """args.checkpoint's model; with --images, those images become its test split (DatasetRef name "images",
    read from the path by explorer.data.image_files) for every step that follows."""
    model = load_model(args.checkpoint, device=device)
    if getattr(args, "images", None):
        ds = model.metadata.get("dataset") or {}
        keep = {k: ds[k] for k in ("pixels", "levels", "test_seed") if k in ds}
        model.metadata["dataset"] = {"name": "images", "image_shape": list(model.config.image_shape), **keep}
        args.data_dir = args.images
    return model


def join_process_group(args: argparse.Namespace) -> None:
    """Under torchrun: this process's GPU (LOCAL_RANK, written back to args.device) and the process group, nccl
    on CUDA and gloo on the CPU."""
    import os

    import torch.distributed as dist

    from ..model.devices import resolve_device

    device = resolve_device(args.device)
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        args.device = f"cuda:{local}"
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
