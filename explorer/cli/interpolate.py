"""`interpolate CKPT --a I --b J`: decode a latent path between two test images (PNG strip, GIF)."""
from __future__ import annotations

import argparse
import sys

import torch

from ..data.ref import NO_DATASET, DatasetRef
from ..figures.images import gif_bytes, grid, png_bytes, save_bytes
from ..latent.geometry import lerp, slerp
from ..model.devices import resolve_device
from ..model.imported import ImportedModel
from ..model.latent_model import LatentModel
from .common import add_images, model_with_images, add_device_seed, apply_threads, check_images_fit, positive_int

METHODS = {"lerp": lerp, "slerp": slerp}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="decode the latent path between two test images (PNG strip, GIF)",
                       description="Encode test images A and B to their posterior means, walk from one "
                                   "code to the other (straight line or spherical arc) and decode each "
                                   "point to the mean of p(x|z). The test split is that of the dataset "
                                   "named in the checkpoint (the bundled MNIST test split for mnist).")
    p.add_argument("checkpoint", help="a checkpoint: .safetensors from `train`, or .vaex from `import-onnx`")
    p.add_argument("--a", type=int, required=True, metavar="INDEX", help="index of the first test image")
    p.add_argument("--b", type=int, required=True, metavar="INDEX", help="index of the second test image")
    p.add_argument("--steps", type=_steps, default=10, help="points on the path, both ends included (default: %(default)s)")
    p.add_argument("--method", choices=sorted(METHODS), default="lerp",
                   help="lerp = straight line (default); slerp = spherical arc, which keeps the norm a "
                        "Gaussian prior expects")
    p.add_argument("--out", default="interpolation.png", help="PNG strip to write (default: %(default)s)")
    p.add_argument("--gif", default=None, metavar="PATH", help="also write an animated GIF (there and back)")
    p.add_argument("--ms", type=positive_int, default=120, help="GIF milliseconds per frame (default: %(default)s)")
    p.add_argument("--scale", type=positive_int, default=2, help="enlarge each pixel this many times (default: %(default)s)")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="where the dataset files live, if they are not bundled")
    add_device_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    torch.manual_seed(args.seed)  # the path itself is deterministic (posterior means); this fixes the rest
    device = resolve_device(args.device)
    model = model_with_images(args, device)
    ref = DatasetRef.of(model)
    test_x = _test_images(model, ref, args.data_dir)
    for flag, i in (("--a", args.a), ("--b", args.b)):
        if not 0 <= i < len(test_x):
            raise ValueError(f"{flag} {i} is out of range: the test split has {len(test_x)} images "
                             f"(indices 0 to {len(test_x) - 1})")
    pair = ref.scored(test_x)[[args.a, args.b]]  # encoded as the likelihood sees them, as on every page
    frames = interpolate(model, pair.to(device), args.steps, args.method)
    strip = grid(frames, nrow=args.steps)
    try:
        written = [save_bytes(args.out, png_bytes(strip, scale=args.scale))]
        if args.gif:
            written.append(save_bytes(args.gif, gif_bytes(frames, scale=args.scale, ms_per_frame=args.ms)))
    except OSError as e:  # an unwritable path is the user's mistake, not a crash
        raise ValueError(f"cannot write {e.filename or 'output'}: {e.strerror or e}") from e
    print(f"{args.method} from test image {args.a} to {args.b} in {args.steps} steps: "
          + ", ".join(str(p) for p in written))
    return 0


@torch.no_grad()
def interpolate(model: LatentModel, pair: torch.Tensor, steps: int, method: str = "lerp") -> torch.Tensor:
    """pair (2, C, H, W) -> decoded path (steps, C, H, W) on the CPU, between the posterior means."""
    z = model.encode(pair).mean  # (2, D)
    path = METHODS[method](z[0], z[1], steps)  # (steps, D)
    return model.decode_mean(path).cpu()


def _test_images(model: LatentModel, ref: DatasetRef, data_dir: str | None) -> torch.Tensor:
    """The test split of the checkpoint's dataset: (N, C, H, W) in [0, 1]. A model that trained on the first
    `test_from` standard test images (MNIST's bundled split) is given the rest only, as `evaluate` and the
    app do: index 0 is standard test image `test_from`."""
    if ref.name is None and isinstance(model, ImportedModel):  # no guess for a model from elsewhere
        raise ValueError(NO_DATASET)
    if ref.name is None:
        ref = DatasetRef("mnist", ref.pixels)  # an unnamed checkpoint: the bundled MNIST test split
    data = ref.load_test(data_dir)
    for note in data.notes:  # e.g. where the files were found instead of --data-dir
        print(f"note: {note}", file=sys.stderr)
    check_images_fit(model, data.test_x, ref.name)
    held_out = ref.test_from
    if len(data.test_x) == 0:
        raise ValueError(f"dataset {ref.name!r} has no test images to interpolate between")
    if held_out:
        print(f"note: the model trained on the first {held_out:,} {ref.name} test images; --a and --b index the "
              f"{len(data.test_x):,} after them (index 0 is test image {held_out:,})", file=sys.stderr)
    return data.test_x


def _steps(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError("a path needs at least 2 steps (its two ends)")
    return value
