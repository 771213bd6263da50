"""`import-onnx ENCODER DECODER --encoder-output ... --likelihood ... --image-shape C,H,W --out m.vaex`: a VAE
trained elsewhere (any framework that writes ONNX) as one .vaex file the other commands and the app open."""
from __future__ import annotations

import argparse
import sys

from ..data import DATASETS
from ..data.pixels import LEVELS, PIXELS, levels_of
from ..data.ref import load_test_set
from ..model.conventions import ENCODER_OUTPUTS, LAYOUTS, LIKELIHOODS, ConventionError
from ..model.foreign import from_onnx
from ..model.onnx_checks import GraphError
from ..model.imported import ImportedModel
from ..store.checkpoint import save_model
from ..store.outputs import check_writable
from ..store.vaex_file import SUFFIX
from .common import int_list

KNOWN = [d for d in DATASETS if d != "folder"]  # a folder needs its path and size: not a name a card can hold


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-onnx", help="turn an ONNX encoder and decoder trained elsewhere into a .vaex file",
                       description="Read an encoder and a decoder exported to ONNX (torch.onnx.export, tf2onnx, "
                                   "jax2onnx), check them against the conventions named here, and write one .vaex "
                                   "file (the two graphs and a card of numbers and names, no code) that every "
                                   "command and the app open like a checkpoint.")
    p.add_argument("encoder", help="the encoder's .onnx file: images in, q(z|x)'s parameters out")
    p.add_argument("decoder", help="the decoder's .onnx file: codes in, p(x|z)'s parameters out")
    p.add_argument("--encoder-output", required=True, metavar="NAME",
                   help=f"what the encoder outputs: {', '.join(ENCODER_OUTPUTS)} (two outputs, or one split in half)")
    p.add_argument("--likelihood", required=True, metavar="NAME",
                   help=f"what the decoder outputs: {', '.join(LIKELIHOODS)}")
    p.add_argument("--sigma", type=float, default=None, help="the fixed standard deviation of --likelihood gaussian")
    p.add_argument("--image-shape", type=int_list, required=True, metavar="C,H,W",
                   help="the images the encoder takes, channels first, e.g. 1,28,28")
    p.add_argument("--layout", default="auto", metavar="NAME",
                   help=f"how the graphs hold images: auto (read from the encoder's input), {', '.join(LAYOUTS)}")
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"the data set it was trained on ({', '.join(KNOWN)}): its test images feed the map and "
                        "the estimates; without one, the commands that need images say so")
    p.add_argument("--pixels", default="grey", metavar="RULE",
                   help=f"what the decoder's likelihood scores: {', '.join(PIXELS)} (default: %(default)s)")
    p.add_argument("--out", required=True, help=f"the {SUFFIX} file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _check(args)
    check_writable(args.out)  # before the graphs are read: a wrong --out costs nothing
    levels = levels_of(args.dataset) if args.pixels == "dequantized" else LEVELS
    try:
        model = from_onnx(args.encoder, args.decoder, image_shape=args.image_shape, encoder_output=args.encoder_output,
                          likelihood=args.likelihood, sigma=args.sigma, layout=args.layout, dataset=args.dataset,
                          pixels=args.pixels, levels=levels)
    except (ConventionError, GraphError) as e:  # the core names Python's arguments; here they are options
        raise ValueError(option_words(str(e))) from None
    _check_dataset(model, args.dataset)
    path = save_model(model, args.out)
    where = f"{args.dataset} test images, {args.pixels} pixels" if args.dataset else "no data set named"
    print(f"wrote {path}: {model.describe()} · {where}")
    return 0


OPTION_WORDS = {"encoder_output=": "--encoder-output ", "likelihood=": "--likelihood ", "sigma=": "--sigma",
                "dataset=": "--dataset ", "pixels=": "--pixels ", "encoder_output": "--encoder-output",
                "image_shape and layout": "--image-shape and --layout", "image_shape": "--image-shape"}


def option_words(text: str) -> str:
    """A core message with the command's option names for Python's argument names."""
    for word, option in OPTION_WORDS.items():
        text = text.replace(word, option)
    return text


def _check(args: argparse.Namespace) -> None:
    """The options' words, each a one-line error naming the option (from_onnx checks the numbers)."""
    if len(args.image_shape) != 3 or min(args.image_shape) < 1:
        raise ValueError(f"--image-shape takes three positive sizes C,H,W (e.g. 1,28,28); got "
                         f"{','.join(map(str, args.image_shape))}")
    if args.layout not in ("auto", *LAYOUTS):
        raise ValueError(f"--layout must be auto or one of {', '.join(LAYOUTS)}; got {args.layout!r}")
    if args.pixels not in PIXELS:
        raise ValueError(f"--pixels must be one of {', '.join(PIXELS)}; got {args.pixels!r}")
    if args.dataset is not None and args.dataset not in KNOWN:
        raise ValueError(f"--dataset must be one of {', '.join(KNOWN)}; got {args.dataset!r}")
    if not str(args.out).endswith(SUFFIX):
        raise ValueError(f"--out names the file to write, ending in {SUFFIX}; got {args.out!r}")


def _check_dataset(model: ImportedModel, dataset: str | None) -> None:
    """The named data set's images must be the shape the encoder takes; a set not on disk is checked later."""
    if dataset is None:
        return
    try:
        shape = tuple(load_test_set(dataset).test_x.shape[1:])
    except (FileNotFoundError, OSError, ValueError) as e:
        print(f"note: the {dataset} test set is not here to check the image shape against ({e})", file=sys.stderr)
        return
    if shape != tuple(model.card.image_shape):
        raise ValueError(f"--dataset {dataset} has images of shape {shape}, but --image-shape says "
                         f"{tuple(model.card.image_shape)}")
