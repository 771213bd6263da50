"""ONNX nodes as the page's op records (explorer/web/ops.py): one chain of layers walked node by node. The live
tensor (the one the page computes) has a shape without N; every other input must be a constant (an
initializer, a Constant node, or a shape computed from the live tensor's). A node the page cannot run raises a
ValueError whose one line names it, and the app decodes on the server instead."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from .ops import ACT_CODES, OP_ACT, OP_LINEAR, conv_record, gather_record, permutation

ACTS = {"Relu": "relu", "Tanh": "tanh", "Elu": "elu", "LeakyRelu": "leaky_relu", "Softplus": "softplus",
        "Sigmoid": "sigmoid"}
ACT_ALPHA = {"Elu": 1.0, "LeakyRelu": 0.01}  # ONNX's defaults; the record carries the graph's own value
SKIPPED = ("Identity", "Dropout")  # inference: both pass their input through


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


class Walk:
    """One pass along a chain of nodes from the tensor `name` of shape `shape` (without N)."""

    def __init__(self, consts: dict[str, np.ndarray], name: str, shape: tuple[int, ...], what: str):
        self.consts, self.name, self.shape, self.what = consts, name, tuple(int(s) for s in shape), what
        self.ops: list[list[Any]] = []
        self.biased = False  # the last record is a linear or conv layer whose bias a following Add may join

    def fail(self, why: str) -> ValueError:
        return ValueError(f"the page cannot run the {self.what}'s graph: {why}")

    def run(self, nodes: list[onnx.NodeProto]) -> "Walk":
        for node in nodes:
            self.step(node)
        return self

    def const(self, name: str, node: onnx.NodeProto) -> np.ndarray:
        if name not in self.consts:
            raise self.fail(f"its {node.op_type} node takes two computed inputs (the page runs one chain of layers)")
        return self.consts[name]

    def step(self, node: onnx.NodeProto) -> None:
        op, a = node.op_type, attributes(node)
        if self.name not in node.input:
            self.consts[node.output[0]] = fold(node, a, self.consts, self.fail)
        elif op == "Shape":  # the batch as 0, which Reshape reads as "keep this size"
            self.consts[node.output[0]] = np.array([0, *self.shape], np.int64)[a.get("start", 0):a.get("end")]
        elif op in SKIPPED:
            self.name = node.output[0]
        elif op in HANDLERS:
            if op != "Add" and node.input[0] != self.name:
                raise self.fail(f"its {op} node takes the computed tensor as a weight")
            biased = HANDLERS[op](self, node, a)
            self.name, self.biased = node.output[0], biased
        else:
            raise self.fail(f"no {op} operator in the page")

    def linear(self, node: onnx.NodeProto, a: dict) -> bool:
        b = self.const(node.input[1], node).astype(np.float32)
        nin = math.prod(self.shape)
        if len(self.shape) != 1 or a.get("transA", 0) or b.ndim != 2:
            raise self.fail(f"a {node.op_type} on a tensor of shape {list(self.shape)}")
        w = (b if a.get("transB", 0) else b.T) * a.get("alpha", 1.0)  # (nout, nin), as torch's Linear
        if w.shape[1] != nin:
            raise self.fail(f"a {node.op_type} with weights {list(b.shape)} on {nin} numbers")
        bias = np.zeros(w.shape[0], np.float32)
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            bias = bias + a.get("beta", 1.0) * np.broadcast_to(self.const(node.input[2], node).reshape(-1),
                                                                bias.shape)
        self.ops.append([OP_LINEAR, nin, w.shape[0], np.ascontiguousarray(w), bias])
        self.shape = (w.shape[0],)
        return True

    def add(self, node: onnx.NodeProto, a: dict) -> bool:
        """A bias after a MatMul (or a conv without one): joined to the layer before."""
        other = self.const(node.input[1] if node.input[0] == self.name else node.input[0], node)
        if not self.biased:
            raise self.fail("an Add that is not a layer's bias")
        full = np.broadcast_to(other.reshape(other.shape[max(0, other.ndim - len(self.shape)):]), self.shape)
        last = self.ops[-1]
        if last[0] == OP_LINEAR:
            last[4] = last[4] + full
        elif np.all(full == full[:, :1, :1]):  # one number per channel
            last[11] = last[11] + full[:, 0, 0]
        else:
            raise self.fail("an Add that differs across a feature map's pixels")
        return True

    def act(self, node: onnx.NodeProto, a: dict) -> bool:
        rec = [OP_ACT, ACT_CODES[ACTS[node.op_type]]]
        if node.op_type in ACT_ALPHA:
            rec.append(float(a.get("alpha", ACT_ALPHA[node.op_type])))
        self.ops.append(rec)
        return False

    def flatten(self, node: onnx.NodeProto, a: dict) -> bool:
        if a.get("axis", 1) != 1:
            raise self.fail(f"a Flatten at axis {a['axis']} (the page keeps the batch axis apart)")
        self.shape = (math.prod(self.shape),)  # the same numbers in the same order
        return False

    def reshape(self, node: onnx.NodeProto, a: dict) -> bool:
        target = [int(t) for t in self.const(node.input[1], node)]
        if not target or target[0] not in (-1, 0, 1) or (target[0] == 0 and a.get("allowzero", 0)):
            raise self.fail(f"a Reshape to {target} (the page keeps the batch axis apart)")
        rest = [self.shape[i] if t == 0 and i < len(self.shape) else t for i, t in enumerate(target[1:])]
        if target[0] == -1 and -1 in rest or rest.count(-1) > 1:
            raise self.fail(f"a Reshape to {target} with two sizes left free")
        if -1 in rest:
            rest[rest.index(-1)] = math.prod(self.shape) // max(1, -math.prod(rest))
        if math.prod(rest) != math.prod(self.shape):
            raise self.fail(f"a Reshape of {list(self.shape)} to {target}")
        self.shape = tuple(rest)
        return False

    def transpose(self, node: onnx.NodeProto, a: dict) -> bool:
        perm = list(a["perm"]) if "perm" in a else list(range(len(self.shape) + 1))[::-1]
        if perm[0] != 0:
            raise self.fail(f"a Transpose {perm} that moves the batch axis")
        axes = tuple(p - 1 for p in perm[1:])
        rec = gather_record(permutation(self.shape, axes), math.prod(self.shape))
        if rec:
            self.ops.append(rec)
        self.shape = tuple(self.shape[i] for i in axes)
        return False

    def slice(self, node: onnx.NodeProto, a: dict) -> bool:
        """Features [start:end] of a flat tensor (torch's chunk writes two)."""
        starts, ends = (self.const(i, node).reshape(-1) for i in node.input[1:3])
        axes = self.const(node.input[3], node).reshape(-1) if len(node.input) > 3 and node.input[3] else [0]
        steps = self.const(node.input[4], node).reshape(-1) if len(node.input) > 4 and node.input[4] else [1]
        if len(self.shape) != 1 or len(starts) != 1 or int(axes[0]) not in (1, -1) or int(steps[0]) != 1:
            raise self.fail(f"a Slice of a tensor of shape {list(self.shape)} other than a range of its features")
        index = np.arange(self.shape[0])[int(starts[0]):int(ends[0])]
        rec = gather_record(index, self.shape[0])
        if rec:
            self.ops.append(rec)
        self.shape = (index.size,)
        return False

    def conv(self, node: onnx.NodeProto, a: dict) -> bool:
        op, w = node.op_type, self.const(node.input[1], node).astype(np.float32)
        k = list(a.get("kernel_shape", w.shape[2:]))
        s, p, d = list(a.get("strides", [1, 1])), list(a.get("pads", [0] * 4)), list(a.get("dilations", [1, 1]))
        for what, v in (("kernel_shape", k), ("strides", s), ("pads", p)):
            if len(set(v)) != 1 or len(v) != (4 if what == "pads" else 2):
                raise self.fail(f"a {op} with {what} {v} (it needs one size for both axes)")
        wrong = [f"dilations {d}" if d != [1, 1] else "", f"group {a['group']}" if a.get("group", 1) != 1 else "",
                 f"auto_pad {a['auto_pad']}" if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") else "",
                 f"output_padding {a['output_padding']}" if any(a.get("output_padding", [])) else "",
                 "output_shape" if "output_shape" in a else ""]
        if any(wrong) or len(self.shape) != 3:
            raise self.fail(f"a {op} with {', '.join(x for x in wrong if x) or f'input {list(self.shape)}'}")
        transposed = op == "ConvTranspose"
        cin, cout = (w.shape[0], w.shape[1]) if transposed else (w.shape[1], w.shape[0])
        if cin != self.shape[0]:
            raise self.fail(f"a {op} taking {cin} channels on {self.shape[0]}")
        bias = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else np.zeros(cout)
        rec, self.shape = conv_record(transposed, self.shape, cout, k[0], s[0], p[0], w, bias.astype(np.float32))
        self.ops.append(rec)
        return True


HANDLERS = {"Gemm": Walk.linear, "MatMul": Walk.linear, "Add": Walk.add, "Flatten": Walk.flatten,
            "Reshape": Walk.reshape, "Transpose": Walk.transpose, "Slice": Walk.slice, "Conv": Walk.conv,
            "ConvTranspose": Walk.conv,
            **{name: Walk.act for name in ACTS}}
# on constants: shape arithmetic (the batch reads 0, which a Reshape keeps and its checks catch if misused)
FOLDED = ("Constant", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Add", "Sub", "Mul", "Div")
ARITHMETIC = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}


def fold(node: onnx.NodeProto, a: dict, consts: dict[str, np.ndarray], fail) -> np.ndarray:
    """A node on constants only, computed here (shape arithmetic the exporters write before a Reshape)."""
    op = node.op_type
    if op not in FOLDED:
        raise fail(f"no {op} operator in the page")
    ins = []
    for name in node.input:
        if name and name not in consts:
            raise fail(f"its {op} node takes a tensor the page does not compute")
        ins.append(consts.get(name))
    if op == "Constant":
        if "value" in a:
            return numpy_helper.to_array(a["value"])
        key = next(iter(a))
        return np.asarray(a[key])
    if op == "Gather":
        return np.take(ins[0], ins[1], axis=a.get("axis", 0))
    axes = tuple(int(x) for x in (a["axes"] if "axes" in a else ins[1] if len(ins) > 1 and ins[1] is not None
                                  else ()))
    if op == "Unsqueeze":
        return np.expand_dims(ins[0], axes)
    if op == "Squeeze":
        return np.squeeze(ins[0], axes or None)
    if op == "Concat":
        return np.concatenate([np.atleast_1d(x) for x in ins], axis=a.get("axis", 0))
    if op in ARITHMETIC:
        return ARITHMETIC[op](ins[0], ins[1])
    if op == "Div":  # ONNX's integer division truncates
        q = np.true_divide(ins[0], ins[1])
        whole = np.issubdtype(ins[0].dtype, np.integer)
        return (np.trunc(q) if whole else q).astype(ins[0].dtype)
    return np.asarray(ins[0])  # Cast: shapes are whole numbers in any type
