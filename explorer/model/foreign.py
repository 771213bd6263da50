"""explorer.from_torch and explorer.from_onnx: a VAE trained by other code, as an explorer model."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..data.pixels import LEVELS, PIXELS
from ..data.registry import DATASETS
from ..data.units import unit_of
from .conventions import NATIVE_LIKELIHOOD, ConventionError, check_names, encoder_parts
from .imported import ImportCard, ImportedModel
from .onnx_checks import check_sizes
from .onnx_net import OnnxNet


class _Method(nn.Module):
    """One method of a module that has encode and decode (the pytorch/examples VAE) as a module of its own."""

    def __init__(self, owner: nn.Module, method: str):
        super().__init__()
        self.owner, self.method = owner, method

    def forward(self, x: torch.Tensor):
        return getattr(self.owner, self.method)(x)


def from_torch(encoder: nn.Module, decoder: nn.Module | None = None, *, image_shape: tuple[int, int, int],
               encoder_output: str, likelihood: str, sigma: float | None = None, layout: str = "nchw",
               dataset: str | dict | None = None, pixels: str = "grey", levels: int = LEVELS) -> ImportedModel:
    """An explorer model from an encoder and a decoder module, or from one module with encode and decode
    methods. encoder_output: mean_logvar | mean_logstd | mean_std (two outputs, or one split in half) | point;
    likelihood: bernoulli_logits | bernoulli_probs | gaussian (with sigma) | gaussian_mean_logvar. dataset
    names a data set this program knows ("mnist") or is a DatasetRef record; pixels: what the decoder scores
    (grey levels in [0, 1] unless it trained on binarized or dequantized images)."""
    if decoder is None:
        if not (callable(getattr(encoder, "encode", None)) and callable(getattr(encoder, "decode", None))):
            raise TypeError("pass an encoder and a decoder, or one module with encode and decode methods")
        encoder, decoder = _Method(encoder, "encode"), _Method(encoder, "decode")
    return _imported(encoder.eval(), decoder.eval(), image_shape, encoder_output, likelihood, sigma, layout,
                     "torch", dataset, pixels, levels)


def from_onnx(encoder: str | os.PathLike | bytes, decoder: str | os.PathLike | bytes, *,
              image_shape: tuple[int, int, int], encoder_output: str, likelihood: str, sigma: float | None = None,
              layout: str = "auto", dataset: str | dict | None = None, pixels: str = "grey",
              levels: int = LEVELS) -> ImportedModel:
    """An explorer model from two ONNX graphs (files or bytes), run by onnxruntime; options as from_torch.
    layout "auto" reads the encoder's declared input shape: (N, C*H*W) flat, (N, C, H, W) or (N, H, W, C)."""
    enc, dec = (_net(g, role) for g, role in ((encoder, "encoder"), (decoder, "decoder")))
    if layout == "auto":
        layout = guess_layout(enc.input_shape, tuple(image_shape))
    _check_sizes(enc, dec, tuple(image_shape), layout, encoder_output)
    return _imported(enc, dec, image_shape, encoder_output, likelihood, sigma, layout, "onnx", dataset, pixels,
                     levels)


def _net(graph: str | os.PathLike | bytes, role: str) -> OnnxNet:
    if isinstance(graph, (bytes, bytearray)):
        return OnnxNet(bytes(graph), f"the {role} graph")
    path = Path(graph)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {role} file")
    return OnnxNet(path.read_bytes(), str(path))


def _check_sizes(enc: OnnxNet, dec: OnnxNet, image_shape: tuple[int, int, int], layout: str,
                 encoder_output: str) -> None:
    """Both graphs' tensors bounded by static shape inference before either runs on real input: the encoder's
    for one image of the card's shape, then the decoder's for one code of the size the encoder gives."""
    c, h, w = image_shape
    check_sizes(enc.data, enc.name, {"nchw": [1, c, h, w], "nhwc": [1, h, w, c], "nhw": [1, h, w],
                                     "flat": [1, c * h * w]}[layout])
    probe = ImportedModel(enc, dec, ImportCard(image_shape, 1, encoder_output, "bernoulli_logits", None, layout, "onnx"))
    with torch.no_grad():
        x = torch.full((1, c, h, w), 0.5)
        latent = encoder_parts(probe._outputs(enc(probe._images_in(x))), encoder_output)[0].shape[-1]
    check_sizes(dec.data, dec.name, [1, latent], "decoder")


def guess_layout(shape: list, image_shape: tuple[int, int, int]) -> str:
    """nchw, nhwc, nhw (grey, no channel axis) or flat, from a graph input's declared shape (free sizes are
    names)."""
    c, h, w = image_shape
    rest = tuple(shape[1:])
    if len(rest) == 1:
        return "flat"
    if len(rest) == 2 and c == 1:
        return "nhw"
    if rest == (h, w, c) and rest != (c, h, w):
        return "nhwc"
    return "nchw"


def _imported(enc: nn.Module, dec: nn.Module, image_shape, encoder_output: str, likelihood: str,
              sigma: float | None, layout: str, source: str, dataset, pixels: str, levels: int) -> ImportedModel:
    check_names(encoder_output, likelihood, sigma)
    if pixels not in PIXELS:
        raise ConventionError(f"pixels must be one of {', '.join(PIXELS)}; got {pixels!r}")
    try:  # a pair with no meaning (a Bernoulli on dequantized pixels) is refused here, not when the file is read
        unit_of(pixels, NATIVE_LIKELIHOOD[likelihood])
    except ValueError:
        raise ConventionError(f"pixels={pixels!r} does not fit likelihood={likelihood!r}: a Bernoulli decoder scores "
                              "binarized or grey pixels, a Gaussian any of them") from None
    probe = ImportedModel(enc, dec, ImportCard(image_shape, 1, encoder_output, likelihood, sigma, layout, source))
    with torch.no_grad():
        try:
            x = torch.full((2, *probe.card.image_shape), 0.5)
            outs = probe._outputs(enc(probe._images_in(x)))
        except (RuntimeError, ValueError) as e:
            raise ConventionError(f"the encoder does not take images of shape {tuple(image_shape)} "
                                  f"(layout {layout!r}): {str(e).splitlines()[0][:200]}; check image_shape and "
                                  "layout") from None
    latent = encoder_parts(outs, encoder_output)[0].shape[-1]
    card = ImportCard(image_shape, latent, encoder_output, likelihood, sigma, layout, source)
    model = ImportedModel(enc, dec, card, pixels, levels)
    if dataset is not None:
        record = {"name": dataset} if isinstance(dataset, str) else dict(dataset)
        if record.get("name") not in DATASETS or record.get("name") == "folder":
            raise ConventionError(f"dataset must name a data set this program knows "
                                  f"({', '.join(d for d in DATASETS if d != 'folder')}); got {record.get('name')!r}")
        model.metadata["dataset"] = {**record, "pixels": pixels, **({"levels": levels} if pixels == "dequantized" else {})}
    else:
        model.metadata["dataset"] = {"pixels": pixels}
    return model.validate()
