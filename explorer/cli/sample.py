"""`sample CKPT`: decoder means of prior draws as one PNG grid, or the 2-D manifold grid."""
from __future__ import annotations

import argparse
import sys

import torch

from ..data.ref import DatasetRef
from ..figures.images import grid, png_bytes, save_bytes
from ..latent.geometry import manifold_grid, manifold_latents
from ..model.devices import resolve_device
from ..model.encoding import encode
from .common import add_images, model_with_images, add_device_seed, apply_threads, check_images_fit, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="decode draws from the prior p(z) = N(0, I) into a PNG grid",
                       description="Draw z ~ N(0, I), decode each to the mean of p(x|z) and write the "
                                   "images as one PNG grid. With --grid N (2-D latent only) decode an N x N "
                                   "grid through the Gaussian's inverse CDF instead (Kingma & Welling 2014, "
                                   "figure 4).")
    p.add_argument("checkpoint", help="a checkpoint: .safetensors from `train`, or .vaex from `import-onnx`")
    p.add_argument("--n", type=positive_int, default=64, help="number of prior samples (default: %(default)s)")
    p.add_argument("--grid", type=positive_int, default=None, metavar="N",
                   help="2-D latent: render the N x N manifold grid instead of random samples")
    add_images(p)
    p.add_argument("--data-dir", default=None,
                   help="an autoencoder's --grid spans its encoded test set: where that dataset's files are")
    p.add_argument("--nrow", type=positive_int, default=None, help="images per row (default: a square grid)")
    p.add_argument("--scale", type=positive_int, default=2, help="enlarge each pixel this many times (default: %(default)s)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default: %(default)s)")
    add_device_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    device = resolve_device(args.device)
    model = model_with_images(args, device)
    if args.grid is not None:
        if model.latent_dim != 2:
            raise ValueError(f"--grid needs a 2-D latent; this model has {model.latent_dim} dimensions "
                             "(use --n for prior samples)")
        if model.is_variational:
            z = manifold_grid(args.grid)  # (N*N, 2), row-major
        else:  # no prior to take quantiles of: span the codes of the test set instead
            ref = DatasetRef.of(model)
            if ref.name is None:
                raise ValueError("an autoencoder's grid spans its encoded test set, and this checkpoint does "
                                 "not name its dataset (metadata['dataset']['name'])")
            test_x = ref.load_test(args.data_dir).test_x
            check_images_fit(model, test_x, ref.split)
            codes = encode(model, ref.scored(test_x)).mean
            z, caption = manifold_latents(args.grid, 2, codes, variational=False)
            print(f"note: {caption}", file=sys.stderr)
        nrow = args.grid
    else:
        if not model.is_variational:
            print(f"note: a {model.config.kind.upper()} has no prior; decoding N(0, I) draws anyway",
                  file=sys.stderr)
        # Drawn on the CPU with its own generator, so a seed gives the same images on every device.
        gen = torch.Generator().manual_seed(args.seed)
        z, nrow = torch.randn(args.n, model.latent_dim, generator=gen), args.nrow
    x = model.decode_mean(z.to(device))  # (N, C, H, W) in [0, 1]
    img = grid(x.cpu(), nrow=nrow)
    try:
        path = save_bytes(args.out, png_bytes(img, scale=args.scale))
    except OSError as e:  # an unwritable --out is the user's mistake, not a crash
        raise ValueError(f"cannot write {args.out}: {e.strerror or e}") from e
    h, w = img.shape[-2] * args.scale, img.shape[-1] * args.scale
    print(f"wrote {len(x)} images to {path} ({w}x{h} px)")
    return 0
