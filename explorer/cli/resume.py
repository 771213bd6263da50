"""`train --resume`: a resume continues on its checkpoint's data, image size, pixel rule and learning rate."""
from __future__ import annotations

import argparse

from ..data import DATASETS
from ..data.folder import image_size
from ..data.pixels import resolve_pixels

DEFAULT_LR = 1e-3


def resume_settings(args: argparse.Namespace, model) -> None:
    """A resume continues on the checkpoint's dataset, image size and learning rate unless told otherwise;
    a --dataset (or folder size, colour) that contradicts the checkpoint is an error, not a silent switch."""
    ds, (c, h, w) = model.metadata.get("dataset") or {}, model.config.image_shape
    name = ds.get("name")
    if args.dataset is None:
        if name not in DATASETS:
            raise ValueError(f"{args.resume} does not name a known dataset ({name!r}); pass --dataset")
        args.dataset = name
    elif name is not None and args.dataset != name:
        raise ValueError(f"{args.resume} trained on {name}, but --dataset says {args.dataset}; a resume continues "
                         f"on its own data (leave out --dataset)")
    if args.dataset == "folder":
        if args.image_size is not None and image_size(args.image_size) != (h, w):
            raise ValueError(f"{args.resume} has {h}x{w} images, but --image-size says "
                             f"{'x'.join(map(str, image_size(args.image_size)))}")
        if args.rgb and c == 1:
            raise ValueError(f"{args.resume} is a greyscale model, but --rgb asks for colour")
        args.image_size, args.rgb = (h, w), c == 3
    if args.lr is None:
        args.lr = float((model.metadata.get("train_config") or {}).get("lr", DEFAULT_LR))


def same_pixels(args: argparse.Namespace, pixels: str, likelihood: str) -> None:
    """A resume continues on its own pixel rule; an explicit --pixels that contradicts it is an error."""
    if args.pixels != "auto" and resolve_pixels(args.pixels, likelihood) != pixels:
        raise ValueError(f"{args.resume} trained on {pixels} pixels, but --pixels says {args.pixels}; a resume "
                         "continues on its own (leave out --pixels)")
