"""An imported model (explorer.model.imported) as the page's two programs: its ONNX graphs (kept from a .vaex file,
or exported from torch modules by graphs_of) read node by node (onnx_ops.py), and its card's conventions as
header numbers (how the decoder's output becomes the mean shown, how the encoder's second half becomes sigma).
An encoder with two heads on one hidden layer (the pytorch/examples VAE's fc21 and fc22) becomes one linear layer
whose output is [mean, second], the page's encoder output."""
from __future__ import annotations

import math
import threading
import weakref
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ..model.imported import ImportedModel
from ..store.vaex_file import graphs_of
from .onnx_ops import Walk, attributes
from .ops import (OP_CONV, OP_CONVT, OP_GATHER, OP_LINEAR, OUT_CLAMP, OUT_SIGMOID, SPREAD_CODES, gather_record,
                  permutation)

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (encoder, decoder) records, or why not
_LOCK = threading.Lock()


def imported_programs(model: ImportedModel, encoder: bool) -> tuple[list, list, dict[str, Any]]:
    """(encoder records, decoder records, header numbers) for a model trained elsewhere; a ValueError says why
    the page cannot run it. The decoder's mean: a sigmoid of logits, else its output as it is (clamped to
    [0, 1] for display; the first half of a mean and log-variance)."""
    enc, dec = programs(model)
    card = model.card
    numbers = {"out": OUT_SIGMOID if card.likelihood == "bernoulli_logits" else OUT_CLAMP,
               "spread": SPREAD_CODES[card.encoder_output]}
    return (enc if encoder else []), dec, numbers


def programs(model: ImportedModel) -> tuple[list, list]:
    """Both programs, read once per model (a torch module's export takes a second; the app asks on every rerun)."""
    with _LOCK:
        hit = _CACHE.get(model)
        if hit is None:
            try:
                hit = _read(model)
            except ValueError as e:
                hit = str(e).splitlines()[0]
            except Exception as e:  # a graph shaped in a way no check foresaw: the server still runs it
                hit = f"the page cannot run this model ({type(e).__name__}: {str(e)[:200]})".splitlines()[0]
            _CACHE[model] = hit
    if isinstance(hit, str):
        raise ValueError(hit)
    return hit


def _read(model: ImportedModel) -> tuple[list, list]:
    c = model.card
    try:
        enc_graph, dec_graph = graphs_of(model)
    except Exception as e:  # a torch module the ONNX exporter cannot trace: the server still runs it
        raise ValueError(f"the page cannot run this model: it could not be exported to ONNX "
                         f"({(str(e).strip().splitlines() or [type(e).__name__])[0][:200]})") from None
    C, H, W = c.image_shape
    point = c.encoder_output == "point"
    shape_in = {"flat": (C * H * W,), "nchw": (C, H, W), "nhwc": (H, W, C), "nhw": (H, W)}[c.layout]
    enc, shape = graph_ops(enc_graph, shape_in, 1 if point else 2, "encoder")
    if c.layout == "nhwc":  # the page's images are (C, H, W): to the graph's (H, W, C) first
        enc = [gather_record(permutation((C, H, W), (1, 2, 0)), C * H * W)] + enc
    want = c.latent_dim * (1 if point else 2)
    if math.prod(shape) != want:
        raise ValueError(f"the page cannot run the encoder's graph: the page reads {math.prod(shape)} numbers from "
                         f"it where {c.encoder_output} with latent_dim {c.latent_dim} needs {want}")
    dec, shape = graph_ops(dec_graph, (c.latent_dim,), 1, "decoder")
    if c.layout == "nhwc" and len(shape) == 3:  # (H, W, k*C) back to channels first, as ImportedModel reads it
        dec.append(gather_record(permutation(shape, (2, 0, 1)), math.prod(shape)))
    if math.prod(shape) not in (C * H * W, 2 * C * H * W):
        raise ValueError(f"the page cannot run the decoder's graph: it gives {math.prod(shape)} numbers for "
                         f"an image of {C * H * W}")
    return merged(enc, C * H * W), merged(dec, c.latent_dim)


def merged(ops: list, size: int) -> list:
    """Records with gathers in a row made one (an NHWC graph's own Transpose undoes the page's) and none left
    that change nothing; size: the input's."""
    out: list = []
    sizes = [size]  # sizes[i]: how many numbers reach out[i]; sizes[-1]: how many leave the last
    for rec in ops:
        if rec is not None and rec[0] == OP_GATHER and out and out[-1][0] == OP_GATHER:
            first, _ = out.pop(), sizes.pop()
            rec = gather_record(first[2].astype(np.int64)[rec[2].astype(np.int64)], sizes[-1])  # x[a][b] = x[a[b]]
        if rec is None:
            continue
        out.append(rec)
        sizes.append(rec[2] if rec[0] == OP_LINEAR else rec[1] if rec[0] == OP_GATHER else
                     rec[4] * rec[5] * rec[6] if rec[0] in (OP_CONV, OP_CONVT) else sizes[-1])  # acts keep it
    return out


def graph_ops(graph: bytes, shape: tuple[int, ...], heads: int, what: str) -> tuple[list, tuple[int, ...]]:
    """The records of one graph from its input (shape without N) to its first output, or to its first two
    outputs (heads=2) as one layer: two linear heads fused, or a Split into halves dropped."""
    try:
        g = onnx.load_model_from_string(graph).graph
    except Exception:
        raise ValueError(f"the page cannot read the {what}'s graph") from None
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inp = next(i.name for i in g.input if i.name not in consts)
    nodes, outs = list(g.node), [o.name for o in g.output][:heads]
    if len(outs) == 2:
        outs = _halves(nodes, outs, consts)
    if len(outs) == 1:
        walk = _chain(consts, inp, shape, what, ancestors(nodes, outs[0]), outs[0])
        if heads == 2 and outs[0] not in g.output and len(walk.shape) != 1:  # halves of a feature map
            raise ValueError(f"the page cannot run the {what}'s graph: it splits a tensor of shape {list(walk.shape)}")
        return walk.ops, walk.shape
    fork = _fork(nodes, inp, outs)
    before = ancestors(nodes, fork)
    trunk = _chain(consts, inp, shape, what, before, fork)
    ids = set(map(id, before))
    recs = [_chain(consts, fork, trunk.shape, what, [n for n in ancestors(nodes, o) if id(n) not in ids], o).ops
            for o in outs]
    return trunk.ops + _joined(recs, trunk.shape, what), (sum(r[0][2] if r[0][0] == OP_LINEAR else r[0][1]
                                                              for r in recs),)


def _joined(recs: list[list], shape: tuple[int, ...], what: str) -> list:
    """Two heads on one tensor as one record: two linear layers' weights stacked, or two slices of the tensor
    (torch's chunk) gathered together, which is no record at all when they are its two halves in order."""
    kinds = {r[0][0] if len(r) == 1 else None for r in recs}
    if kinds == {OP_LINEAR}:
        (_, nin, n1, w1, b1), (_, _, n2, w2, b2) = recs[0][0], recs[1][0]
        return [[OP_LINEAR, nin, n1 + n2, np.concatenate([w1, w2]), np.concatenate([b1, b2])]]
    if kinds == {OP_GATHER} and len(shape) == 1:
        rec = gather_record(np.concatenate([r[0][2] for r in recs]).astype(np.int64), shape[0])
        return [rec] if rec else []
    raise ValueError(f"the page cannot run the {what}'s graph: its two outputs are not two linear layers on one "
                     "hidden layer")


def _chain(consts: dict, start: str, shape: tuple[int, ...], what: str, nodes: list, end: str) -> Walk:
    walk = Walk(consts, start, shape, what).run(nodes)
    if walk.name != end:
        raise ValueError(f"the page cannot run the {what}'s graph: its output is not one chain of layers from "
                         "its input")
    return walk


def ancestors(nodes: list[onnx.NodeProto], name: str) -> list[onnx.NodeProto]:
    """The nodes `name` is computed from, in the graph's (topological) order."""
    need, out = {name}, []
    for node in reversed(nodes):
        if need.intersection(node.output):
            out.append(node)
            need.update(i for i in node.input if i)
    return out[::-1]


def _fork(nodes: list[onnx.NodeProto], inp: str, outs: list[str]) -> str:
    """The last computed tensor both outputs are computed from (shapes read off it do not count)."""
    live = {inp}
    for node in nodes:
        if node.op_type != "Shape" and live.intersection(node.input):
            live.update(node.output)
    order = {inp: -1, **{t: i for i, node in enumerate(nodes) for t in node.output}}
    paths = [live & ({inp} | {t for n in ancestors(nodes, o) for t in n.output}) for o in outs]
    return max(paths[0] & paths[1], key=order.__getitem__)


def _halves(nodes: list[onnx.NodeProto], outs: list[str], consts: dict) -> list[str]:
    """[the split tensor] when the two outputs are its halves along the features (torch's chunk(2, 1)): the page
    reads [mean, second] from one tensor anyway; else outs as they are."""
    node = next((n for n in nodes if list(n.output[:2]) == outs), None)
    if node is None or node.op_type != "Split" or len(node.output) != 2:
        return outs
    a = attributes(node)
    sizes = a.get("split") or (list(consts[node.input[1]]) if len(node.input) > 1 and node.input[1] in consts
                               else None)
    if a.get("axis", 0) not in (1, -1) or (sizes is not None and sizes[0] != sizes[1]):
        return outs
    return [node.input[0]]
