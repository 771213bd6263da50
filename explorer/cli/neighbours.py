"""`neighbours CKPT --index I --k 8`: a test image's nearest test images in latent space and in pixel space."""
from __future__ import annotations

import argparse
import sys

import torch

from ..data import ImageDataset
from ..data.ref import DatasetRef
from ..figures.images import grid, png_bytes, save_bytes
from ..latent.neighbours import METRICS, Neighbours, check_index, metrics_for, neighbours
from ..model.devices import resolve_device
from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..model.probe import require_finite
from .common import add_images, model_with_images, add_device_seed, apply_threads, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("neighbours", help="a test image's k nearest test images in latent and in pixel space",
                       description="Encode the test split, then find the k test images nearest to image I: by "
                                   "the Euclidean distance between posterior means, by the symmetric KL between "
                                   "posteriors (a VAE), and by the Euclidean distance between pixels. Writes one "
                                   "PNG row per metric (the image first) and prints the distances. Indices are "
                                   "those of the Latent map page.")
    p.add_argument("checkpoint", help="a checkpoint: .safetensors from `train`, or .vaex from `import-onnx`")
    p.add_argument("--index", type=int, required=True, metavar="I", help="index of the test image")
    p.add_argument("--k", type=positive_int, default=8, help="neighbours per metric (default: %(default)s)")
    p.add_argument("--out", default="neighbours.png", help="PNG file to write (default: %(default)s)")
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
    check_index(args.index, len(data.test_x), "--index")
    enc = encode(model, DatasetRef.of(model).scored(data.test_x))  # the posterior the map shows
    for what, a in (("posterior means", enc.mean), ("posterior stds", enc.std)):  # else NaN distances
        require_finite(a, what)
    found = find_all(model, enc, data.test_x, args.index, args.k)
    rows = [data.test_x[[args.index, *nb.ids.tolist()]] for nb in found]
    strip = grid(torch.cat(rows), nrow=len(found[0].ids) + 1)
    try:
        path = save_bytes(args.out, png_bytes(strip, scale=args.scale))
    except OSError as e:
        raise ValueError(f"cannot write {args.out}: {e.strerror or e}") from e
    labels = data.test_y
    for nb in found:
        print(f"{nb.metric} ({METRICS[nb.metric]}):")
        for j, d in zip(nb.ids, nb.distances):
            lab = f" label {int(labels[j])}" if labels is not None else ""
            print(f"  {int(j):6d}{lab}  {d:.4g}")
    print(f"wrote {len(found)} rows (image {args.index}, then its {len(found[0].ids)} nearest) to {path}")
    return 0


def find_all(model: LatentModel, enc: Encoding, images: torch.Tensor, index: int, k: int) -> list[Neighbours]:
    """One Neighbours per metric that fits the model (latent, kl for a VAE, pixel)."""
    flat = images.reshape(len(images), -1).numpy()
    return [neighbours(m, index, k, mean=enc.mean, std=enc.std, images=flat) for m in metrics_for(model.is_variational)]


def test_split(model: LatentModel, data_dir: str | None) -> ImageDataset:
    """The test split the Latent map shows for this model (the same indices), checked against its shape."""
    ref = DatasetRef.of(model)
    data, name = ref.load_test(data_dir), ref.split
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    if tuple(data.test_x.shape[1:]) != tuple(model.config.image_shape):
        raise ValueError(f"dataset {name!r} has images of shape {tuple(data.test_x.shape[1:])}, but the model "
                         f"expects {tuple(model.config.image_shape)}")
    if len(data.test_x) < 2:
        raise ValueError(f"dataset {name!r} has fewer than 2 test images")
    return data



