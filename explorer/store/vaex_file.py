"""An imported model's file (.vaex): safetensors with two byte tensors, the encoder's and the decoder's ONNX
graphs, and JSON metadata holding the card that says how to read them (numbers and names, no code). Read
with the checkpoint's own header checks, so a hostile file is refused the same way, before anything runs."""
from __future__ import annotations

import copy
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save as np_save

from ..model.devices import resolve_device
from ..model.foreign import from_onnx
from ..model.imported import ImportedModel
from ..model.onnx_checks import GraphError, all_graphs
from ..model.onnx_net import OnnxNet
from .atomic import atomic_write
from .header import FORMAT_VERSION, GRAPH_KEYS, META_KEY, CheckpointError, check_usable

SUFFIX = ".vaex"


def graphs_of(model: ImportedModel) -> tuple[bytes, bytes]:
    """The encoder's and the decoder's ONNX bytes: kept from the file, or exported from torch modules."""
    c = model.card
    shape = {"nchw": c.image_shape, "nhwc": (*c.image_shape[1:], c.image_shape[0]), "nhw": c.image_shape[1:],
             "flat": (int(np.prod(c.image_shape)),)}[c.layout]
    enc = getattr(model.encoder, "data", None) or to_onnx(model.encoder, tuple(shape), "encoder")
    dec = getattr(model.decoder, "data", None) or to_onnx(model.decoder, (c.latent_dim,), "decoder")
    return enc, dec


def to_onnx(module: torch.nn.Module, shape: tuple[int, ...], role: str = "module") -> bytes:
    """One module as ONNX bytes (torch's TorchScript exporter: fast, no extra package), checked against the
    module at a batch size it was not traced with. Code like x.reshape(len(x), -1) is traced as a constant
    batch size; such a module is exported for one row at a time instead (OnnxNet runs it row by row)."""
    module = copy.deepcopy(module).cpu().eval()  # the caller's module stays where it is
    g = torch.Generator().manual_seed(0)
    why = ""
    for batch, free in ((2, True), (1, False)):
        graph = _export(module, torch.rand(batch, *shape, generator=g), free)
        try:
            if _computes_the_same(module, graph, torch.rand(3, *shape, generator=g)):
                return graph
            why = "its outputs differ from the module's"
        except (GraphError, RuntimeError, ValueError) as e:
            why = str(e).splitlines()[0][:200]
    raise ValueError(f"the {role}'s ONNX export does not compute what the module does ({why}): export it yourself "
                     "with torch.onnx.export(..., external_data=False) and use explorer.from_onnx")


def _export(module: torch.nn.Module, example: torch.Tensor, free_batch: bool) -> bytes:
    with torch.no_grad():
        out = module(example)
    names = [f"out{i}" for i in range(len(out) if isinstance(out, (tuple, list)) else 1)]
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), f, dynamo=False, input_names=["input"], output_names=names,
                          dynamic_axes={n: {0: "batch"} for n in ["input", *names]} if free_batch else None,
                          opset_version=17)
    return f.getvalue()


def _computes_the_same(module: torch.nn.Module, graph: bytes, x: torch.Tensor) -> bool:
    with torch.no_grad():
        want = module(x)
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    got = OnnxNet(graph, "the export")(x)
    return len(got) >= len(want) and all(
        g.shape == w.shape and torch.allclose(g, w.float(), atol=1e-4, rtol=1e-4) for g, w in zip(got, want))


def without_notes(graph: bytes) -> bytes:
    """The graph without its doc strings and node metadata: torch's exporter writes stack traces there, with
    the paths of the exporting machine, which a file handed to others should not carry."""
    import onnx

    proto = onnx.ModelProto.FromString(graph)
    for g in all_graphs(proto.graph):
        g.doc_string = ""
        for node in g.node:
            node.doc_string = ""
            del node.metadata_props[:]
    proto.doc_string = ""
    return proto.SerializeToString()


def save_imported(model: ImportedModel, path: str | os.PathLike, **metadata: Any) -> Path:
    enc, dec = (without_notes(g) for g in graphs_of(model))
    meta = {**model.metadata, **metadata, "format_version": FORMAT_VERSION, "config": model.config.to_dict(),
            "imported": {**model.card.to_dict(), "source": model.card.source}}
    meta["dataset"] = {**(meta.get("dataset") or {}), "pixels": model.pixels}
    tensors = {GRAPH_KEYS[0]: np.frombuffer(enc, np.uint8), GRAPH_KEYS[1]: np.frombuffer(dec, np.uint8)}
    try:
        header = json.dumps(meta, allow_nan=True)
    except TypeError as e:
        raise TypeError(f"model metadata must be JSON-serialisable: {e}") from e
    path = Path(path)
    atomic_write(path, np_save(tensors, metadata={META_KEY: header}))
    return path


def load_imported(data: bytes, header: dict, meta: dict, name: str, device=None) -> ImportedModel:
    """The model in a .vaex file whose header read_header has checked."""
    (n,) = np.frombuffer(data[:8], "<u8")
    base = 8 + int(n)
    graphs = [data[base + header[k]["data_offsets"][0]: base + header[k]["data_offsets"][1]] for k in GRAPH_KEYS]
    card = meta["imported"]
    ds = dict(meta.get("dataset") or {})
    try:
        model = from_onnx(graphs[0], graphs[1], image_shape=card["image_shape"], encoder_output=card["encoder_output"],
                          likelihood=card["likelihood"], sigma=card.get("sigma"), layout=card.get("layout", "nchw"),
                          dataset=ds if ds.get("name") else None, pixels=ds.get("pixels", "grey"),
                          levels=int(ds.get("levels", 256)))
    except (GraphError, ValueError) as e:
        raise CheckpointError(f"{name}: {str(e)[:400]}") from None
    if model.latent_dim != card["latent_dim"]:
        raise CheckpointError(f"{name}: the encoder gives codes of size {model.latent_dim}, the card says "
                              f"{card['latent_dim']}")
    model.card = type(model.card)(**{**model.card.to_dict(), "source": card.get("source", "onnx")})
    model.metadata = {k: v for k, v in meta.items() if k not in ("config", "imported")}
    model.metadata["dataset"] = {**ds, "pixels": model.pixels}
    check_usable(model.eval(), model.card.image_shape, name)
    if device is not None:
        model.to(resolve_device(device))
    return model.eval()
