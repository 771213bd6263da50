"""A native model's encoder and decoder (the torch modules explorer/model/nets.py builds) as the page's op
records (explorer/web/ops.py)."""
from __future__ import annotations

import math
from typing import Any

from torch import nn

from ..model.latent_model import LatentModel
from ..model.nets import ACTIVATION_MODULES
from .ops import ACT_CODES, OP_ACT, OP_LINEAR, OP_RESIZE, OUT_SIGMOID, SPREAD_CODES, conv_record

_ACT_NAMES = {cls: name for name, cls in ACTIVATION_MODULES.items()}  # module types nets.py builds -> names


def module_ops(net: nn.Module, shape: tuple[int, ...]) -> tuple[list[list[Any]], tuple[int, ...]]:
    """The layers of an encoder or decoder body as op records (weights still tensors); shape is its input's
    (without N)."""
    ops: list[list[Any]] = []
    for m in _leaves(net):
        if isinstance(m, nn.Flatten):
            shape = (math.prod(shape),)
        elif isinstance(m, nn.Linear):
            ops.append([OP_LINEAR, m.in_features, m.out_features, m.weight, m.bias])
            shape = (m.out_features,)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if len(shape) == 1:  # a decoder's fc output viewed as its feature map
                shape = tuple(net.feat_shape)
            check_conv(m)
            op, shape = conv_record(isinstance(m, nn.ConvTranspose2d), shape, m.out_channels, m.kernel_size[0],
                                    m.stride[0], m.padding[0], m.weight, m.bias)
            ops.append(op)
        elif type(m) in _ACT_NAMES:
            ops.append([OP_ACT, ACT_CODES[_ACT_NAMES[type(m)]]])
        else:
            raise ValueError(f"the page cannot run a {type(m).__name__} layer")
    return ops, shape


def check_conv(m: nn.Conv2d | nn.ConvTranspose2d) -> None:
    """A ValueError for a convolution vaenet.js would run wrongly: it reads one kernel size, stride and
    padding (square, zeros), and has no dilation, groups or transposed output_padding."""
    name = type(m).__name__
    for what in ("kernel_size", "stride", "padding"):
        v = getattr(m, what)
        if isinstance(v, str) or v[0] != v[1]:
            raise ValueError(f"the page cannot run a {name} with {what} {v!r} (it needs one size for both axes)")
    wrong = [f"dilation {m.dilation}" if tuple(m.dilation) != (1, 1) else "",
             f"groups {m.groups}" if m.groups != 1 else "",
             f"padding_mode {m.padding_mode!r}" if m.padding_mode != "zeros" else "",
             f"output_padding {m.output_padding}" if any(getattr(m, "output_padding", (0, 0))) else ""]
    if any(wrong):
        raise ValueError(f"the page cannot run a {name} with {', '.join(w for w in wrong if w)}")


def _leaves(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if not list(m.children())]


def native_programs(model: LatentModel, encoder: bool) -> tuple[list, list, dict[str, Any]]:
    """(encoder records, decoder records, header numbers) for a model this program built."""
    c = model.config
    enc = module_ops(model.encoder, tuple(c.image_shape))[0] if encoder else []
    dec, dec_shape = module_ops(model.decoder, (c.latent_dim,))
    if len(dec_shape) == 3 and tuple(dec_shape[1:]) != tuple(c.image_shape[1:]):  # ConvDecoder's final resize
        ch = dec_shape[0]
        dec.append([OP_RESIZE, ch, dec_shape[1], dec_shape[2], c.image_shape[1], c.image_shape[2]])
    spread = SPREAD_CODES["mean_logvar" if c.kind == "vae" else "point"]
    return enc, dec, {"out": OUT_SIGMOID, "spread": spread}
