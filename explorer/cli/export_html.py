"""`export-html CKPT --out map.html`: the model and its latent map as one HTML file that works offline."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..latent.map import default_method
from ..latent.projection import available_projections
from ..model.devices import resolve_device
from ..web.export import export_page, fit_map_for_export
from ..web.payload import cannot_run
from .common import add_images, apply_threads, model_with_images, positive_int
from .neighbours import test_split

MB = 1e6


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-html", help="write the model and its latent map as one HTML file that works offline",
                       description="One self-contained HTML file: the page's code, the model's weights and the map's "
                                   "points (with each test image as a thumbnail where they fit) inlined. Opened from "
                                   "disk with no network it shows the map, decodes under the pointer or finger, runs "
                                   "the decoder sliders and draw-your-own, and interpolates between two chosen "
                                   "points. Nothing in it is fetched.")
    p.add_argument("checkpoint", help="a checkpoint: .safetensors from `train`, or .vaex from `import-onnx`")
    p.add_argument("--out", default="map.html", help="HTML file to write (default: %(default)s)")
    p.add_argument("--n", type=positive_int, default=10_000,
                   help="test images on the map, the first N of the split (default: %(default)s, or all there are)")
    p.add_argument("--no-thumbs", action="store_true",
                   help="leave out the test images shown beside a dot under the pointer (a smaller file)")
    p.add_argument("--float16", action="store_true",
                   help="store the weights as float16: about half their bytes, decodes change slightly "
                        "(BENCHMARKS.md has the error)")
    p.add_argument("--method", default=None, choices=["axes", "pca", "tsne", "umap"],
                   help="the map: a 2-D latent's own axes, or a projection of a larger one (default: axes up to "
                        "2-D, else pca; t-SNE and UMAP decode the nearest point under the pointer)")
    p.add_argument("--title", default=None, help="the name the page shows (default: the checkpoint's file name)")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="where the dataset files live, if they are not bundled")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for PyTorch (default: all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    model = model_with_images(args, resolve_device("cpu"))
    why = cannot_run(model)
    if why:
        raise ValueError(f"a page cannot run this model: {why}")
    method = args.method or default_method(model.latent_dim)
    if method not in available_projections(model.latent_dim):
        raise ValueError(f"--method {method} does not fit a {model.latent_dim}-D latent; choose one of "
                         + ", ".join(available_projections(model.latent_dim)))
    data = test_split(model, args.data_dir)
    n = min(args.n, len(data.test_x))
    enc, proj, coords = fit_map_for_export(model, data.test_x, n, method)
    labels = data.test_y[:n].numpy() if data.test_y is not None else None
    title = args.title if args.title is not None else Path(args.checkpoint).stem
    out = export_page(model, title, enc, proj, coords, labels, data.test_x[:n], thumbs=not args.no_thumbs,
                      float16=args.float16, classes=data.classes, index_offset=data.test_from)
    try:
        Path(args.out).write_text(out.text, encoding="utf-8")
    except OSError as e:  # an unwritable path is the user's mistake, not a crash
        raise ValueError(f"cannot write {args.out}: {e.strerror or e}") from e
    s = out.sizes
    parts = ", ".join(f"{k} {s[k] / MB:.2f}" for k in ("weights", "thumbnails", "points", "code", "other"))
    print(f"wrote {args.out}: {s['total'] / MB:.2f} MB ({parts} MB), {out.points:,} points, "
          + ("thumbnails" if out.thumbs else "no thumbnails") + (", float16 weights" if args.float16 else ""))
    return 0
