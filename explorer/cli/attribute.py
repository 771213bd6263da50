"""`attribute CKPT --from-label 1 --to-label 7 --apply 0,1,2`: an attribute vector (the difference of two
groups' mean codes) added to test images at strengths -2 to +2, decoded."""
from __future__ import annotations

import argparse

import numpy as np
import torch

from ..data.ref import DatasetRef
from ..figures.images import grid, png_bytes, save_bytes
from ..latent.attributes import STRENGTHS, apply_vector, attribute_vector, label_ids
from ..latent.neighbours import check_index
from ..model.devices import resolve_device
from ..model.encoding import decode_images, encode
from .common import add_images, model_with_images, add_device_seed, apply_threads, int_list, positive_int
from .neighbours import test_split


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attribute", help="add an attribute vector (label B's mean code minus label A's) to images",
                       description="Encode the test split; the vector is the mean posterior mean of the images "
                                   "in the 'to' group minus that of the 'from' group (White 2016). Each image "
                                   "named by --apply is encoded, moved by strength x vector for each strength, "
                                   "and decoded: one PNG row per image, the image itself first.")
    p.add_argument("checkpoint", help="a checkpoint: .safetensors from `train`, or .vaex from `import-onnx`")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-label", type=int, metavar="L", help="the group the vector points away from")
    src.add_argument("--from-images", type=int_list, metavar="I,J,...", help="or: test images as that group")
    dst = p.add_mutually_exclusive_group(required=True)
    dst.add_argument("--to-label", type=int, metavar="L", help="the group the vector points towards")
    dst.add_argument("--to-images", type=int_list, metavar="I,J,...", help="or: test images as that group")
    p.add_argument("--apply", type=int_list, required=True, metavar="I,J,...", help="test images to move")
    p.add_argument("--strengths", type=float_list, default=STRENGTHS, metavar="S,...",
                   help="multiples of the vector to add (default: -2,-1,0,1,2)")
    p.add_argument("--out", default="attribute.png", help="PNG file to write (default: %(default)s)")
    p.add_argument("--scale", type=positive_int, default=2,
                   help="enlarge each pixel this many times (default: %(default)s)")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="where the dataset files live, if they are not bundled")
    add_device_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    model = model_with_images(args, resolve_device(args.device))
    data = test_split(model, args.data_dir)
    n = len(data.test_x)
    labels = None if data.test_y is None else data.test_y.numpy()
    groups = []
    for flag, label, ids in (("--from", args.from_label, args.from_images), ("--to", args.to_label, args.to_images)):
        if ids is None:
            groups.append(label_ids(labels, label))
        else:
            for i in ids:
                check_index(i, n, f"{flag}-images index")
            groups.append(np.asarray(ids))
    for i in args.apply:
        check_index(i, n, "--apply index")
    codes = encode(model, DatasetRef.of(model).scored(data.test_x)).mean  # the posterior the map shows
    vec = attribute_vector(codes, groups[0], groups[1])
    rows = [torch.from_numpy(apply_vector(codes[i], vec.vector, args.strengths)).float() for i in args.apply]
    decoded = decode_images(model, torch.cat(rows)).view(len(args.apply), len(args.strengths), *data.test_x.shape[1:])
    strip = torch.cat([torch.cat([data.test_x[i:i + 1], decoded[r]]) for r, i in enumerate(args.apply)])
    try:
        path = save_bytes(args.out, png_bytes(grid(strip, nrow=len(args.strengths) + 1), scale=args.scale))
    except OSError as e:
        raise ValueError(f"cannot write {args.out}: {e.strerror or e}") from e
    print(f"vector: mean of {vec.n_to} images minus mean of {vec.n_from}; length {np.linalg.norm(vec.vector):.3f}")
    print(f"wrote {len(args.apply)} rows (the image, then strengths {', '.join(f'{s:g}' for s in args.strengths)}) "
          f"to {path}")
    return 0


def float_list(text: str) -> tuple[float, ...]:
    try:
        out = tuple(float(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not out or not all(np.isfinite(out)):
        raise argparse.ArgumentTypeError("expected at least one finite number")
    return out
