"""The page's op records: the codes vaenet.js reads (defined here once; tests/test_web_ops.py holds the .js's copy
to them), the float32 data the records point into, and the record builders both readers share (torch_ops.py
for a native model's modules, onnx_ops.py for an imported model's graphs)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..model.config import ACTIVATIONS

OP_LINEAR, OP_CONV, OP_CONVT, OP_ACT, OP_RESIZE, OP_GATHER = range(6)
# a native model's activations in config order, then those only imported graphs use
ACT_CODES = {name: i for i, name in enumerate((*ACTIVATIONS, "sigmoid"))}
# how the decoder's first C*H*W outputs become the mean shown: a sigmoid of logits, or already the mean
OUT_SIGMOID, OUT_CLAMP = 0, 1
# how the encoder's second half becomes sigma: exp(h / 2), exp(h), h itself, or no second half (sigma 0)
SPREAD_CODES = {"mean_logvar": 0, "mean_logstd": 1, "mean_std": 2, "point": 3}


class Data:
    """float32 sections appended one after another; offsets are counted in floats."""

    def __init__(self, dry: bool = False) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0
        self.dry = dry  # count offsets only, copy nothing (to ask whether a model can be packed)

    def add(self, a: np.ndarray | torch.Tensor) -> int:
        if self.dry:
            off, self.size = self.size, self.size + int(a.numel() if isinstance(a, torch.Tensor) else np.size(a))
            return off
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a, dtype="<f4").ravel()
        off = self.size
        self.parts.append(a)
        self.size += a.size
        return off


def conv_record(transposed: bool, shape: tuple[int, ...], cout: int, k: int, s: int, p: int,
                weight: Any, bias: Any) -> tuple[list[Any], tuple[int, int, int]]:
    """A (transposed) convolution's record and its output shape; weight and bias stay arrays until
    placed. Weights as torch keeps them: (cout, cin, k, k), transposed (cin, cout, k, k)."""
    c, h, w = shape
    if transposed:
        code, oh, ow = OP_CONVT, (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k
    else:
        code, oh, ow = OP_CONV, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return [code, c, h, w, cout, oh, ow, k, s, p, weight, bias], (cout, oh, ow)


def gather_record(index: np.ndarray, size: int) -> list[Any] | None:
    """y[i] = x[index[i]] on flat data of this size (a transpose, a slice), indices as floats (exact below
    2^24); None where it changes nothing."""
    index = np.asarray(index).ravel()
    if index.size == size and np.array_equal(index, np.arange(size)):
        return None
    if index.size and index.max() >= 2 ** 24:
        raise ValueError("the page cannot gather from a tensor of 2^24 numbers or more")
    return [OP_GATHER, int(index.size), index.astype(np.float32)]


def permutation(shape: tuple[int, ...], perm: tuple[int, ...]) -> np.ndarray:
    """The gather index of x.transpose(perm) for x of this shape."""
    return np.arange(int(np.prod(shape))).reshape(shape).transpose(perm).ravel()


def place(ops: list[list[Any]], data: Data) -> list[list[float]]:
    """Records with their arrays moved into data: each array becomes its offset."""
    return [[data.add(v) if isinstance(v, (np.ndarray, torch.Tensor)) else v for v in op] for op in ops]
