"""An ONNX graph is untrusted input: checked before onnxruntime sees it. Refused: a file over the size cap,
data stored outside the file (ONNX can point a tensor at any path on disk), operators outside the standard
domain or outside the list a VAE needs (nothing that allocates a tensor of a size computed at run time),
tensors whose stored bytes disagree with their claimed shape, and a graph whose static shapes claim more
memory than the cap. Everything is read from the protobuf alone: memory stays bounded by the file's size.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

MAX_GRAPH_BYTES = 512 * 2 ** 20
MAX_TENSOR_ELEMENTS = 2 ** 28  # one activation or weight of 1 GB in float32 is far past any image VAE
STANDARD_DOMAINS = ("", "ai.onnx")
ALLOWED_OPS = frozenset("""
Abs Add AveragePool BatchNormalization Cast Ceil Clip Concat Constant Conv ConvTranspose Div Dropout Elu Equal Erf Exp
Flatten Floor Gather Gelu Gemm GlobalAveragePool GroupNormalization HardSigmoid HardSwish Identity
InstanceNormalization LayerNormalization LeakyRelu Log MatMul Max MaxPool Min Mish Mod Mul Neg Pad Pow PRelu
RandomNormalLike RandomUniformLike ReduceMean ReduceSum Relu Reshape Resize Selu Shape Sigmoid Sign
Reciprocal Slice Softmax Softplus Softsign Split Sqrt Squeeze Sub Sum Tanh Transpose Unsqueeze Upsample Where
""".split())
_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


class GraphError(ValueError):
    """An ONNX graph that is refused, with the reason in one line."""


def parse_graph(data: bytes, name: str):
    """The ModelProto of data, checked; a GraphError otherwise. Nothing is run."""
    import onnx  # the optional dependency is needed only here

    if len(data) > MAX_GRAPH_BYTES:
        raise GraphError(f"{name}: {len(data) / 2 ** 20:.0f} MB is over the {MAX_GRAPH_BYTES // 2 ** 20} MB cap on "
                         "an ONNX graph")
    try:
        model = onnx.ModelProto.FromString(data)
    except Exception as e:  # protobuf's DecodeError, and anything a damaged buffer raises
        raise GraphError(f"{name}: not an ONNX model, or a damaged or truncated one ({type(e).__name__})") from None
    if not model.HasField("graph") or not len(model.graph.node):
        raise GraphError(f"{name}: not an ONNX model (it holds no graph), or a truncated one")
    for imp in model.opset_import:
        if imp.domain not in STANDARD_DOMAINS:
            raise GraphError(f"{name}: uses the operator domain {imp.domain[:60]!r}; only standard ONNX "
                             "operators are run (a custom domain would need code from outside the file)")
    if len(model.functions):
        raise GraphError(f"{name}: defines its own functions; only standard ONNX operators are run")
    for graph in all_graphs(model.graph):
        _check_graph(graph, name)
    return model


def all_graphs(graph) -> Iterator:
    """A graph and every subgraph held in its nodes' attributes."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_graphs(sub)


def _check_graph(graph, name: str) -> None:
    for node in graph.node:
        if node.domain not in STANDARD_DOMAINS:
            raise GraphError(f"{name}: node {node.name[:40]!r} is in the custom domain {node.domain[:60]!r}; only "
                             "standard ONNX operators are run")
        if node.op_type not in ALLOWED_OPS:
            raise GraphError(f"{name}: the operator {node.op_type[:40]!r} is not among those a VAE explorer runs "
                             f"(it would allow work or memory of a size set at run time); supported: "
                             f"{', '.join(sorted(ALLOWED_OPS))}")
        for attr in node.attribute:
            for t in ([attr.t] if attr.HasField("t") else []) + list(attr.tensors):
                _check_tensor(t, name)
    for t in graph.initializer:
        _check_tensor(t, name)
    _check_growth(graph, name)
    if len(graph.sparse_initializer):
        raise GraphError(f"{name}: holds sparse initializers, which are not supported")
    for info in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = declared_shape(info)
        known = [d for d in dims if isinstance(d, int)]
        if any(d < 0 for d in known) or math.prod(known) > MAX_TENSOR_ELEMENTS:
            raise GraphError(f"{name}: tensor {info.name[:40]!r} claims the shape {dims}, over the cap of "
                             f"{MAX_TENSOR_ELEMENTS:,} elements")


def _check_tensor(t, name: str) -> None:
    if t.data_location == 1 or len(t.external_data):  # TensorProto.EXTERNAL
        raise GraphError(f"{name}: tensor {t.name[:40]!r} keeps its data in an outside file; a graph must hold "
                         "all its weights (export with torch.onnx.export(..., external_data=False), or "
                         "onnx.save(model, path, save_as_external_data=False))")
    n = math.prod(t.dims)
    if any(d < 0 for d in t.dims) or n > MAX_TENSOR_ELEMENTS:
        raise GraphError(f"{name}: tensor {t.name[:40]!r} claims the shape {list(t.dims)[:8]}, over the cap of "
                         f"{MAX_TENSOR_ELEMENTS:,} elements")
    size = _DTYPE_BYTES.get(t.data_type)
    if size is None:
        raise GraphError(f"{name}: tensor {t.name[:40]!r} has an unsupported data type ({t.data_type})")
    stored = (len(t.raw_data) // size if t.HasField("raw_data") else
              max(len(t.float_data), len(t.int32_data), len(t.int64_data), len(t.double_data)))
    if (len(t.raw_data) != n * size) if t.HasField("raw_data") else stored != n:
        raise GraphError(f"{name}: tensor {t.name[:40]!r} claims the shape {list(t.dims)[:8]} ({n:,} values) but "
                         f"stores {stored:,}")


GROWTH_LIMITS = {"Resize": (1, 64.0), "Upsample": (1, 64.0), "Pad": (1, 4096)}  # input index, largest value


def _check_growth(graph, name: str) -> None:
    """The operators whose output size comes from an input (scales, pads) must take it from a constant of a
    sane size: a hostile 10**9 would otherwise be allocated when the graph runs."""
    import numpy as np
    from onnx import numpy_helper

    consts = {t.name: t for t in graph.initializer}
    consts.update({n.output[0]: a.t for n in graph.node if n.op_type == "Constant" for a in n.attribute
                   if a.name == "value"})
    for node in graph.node:
        if node.op_type not in GROWTH_LIMITS:
            continue
        first, limit = GROWTH_LIMITS[node.op_type]
        for inp in [i for i in node.input[first:] if i]:
            t = consts.get(inp)
            if t is None:
                raise GraphError(f"{name}: a {node.op_type} takes its sizes from a value computed at run time; "
                                 "only constant scales, sizes and pads are run")
            values = np.abs(numpy_helper.to_array(t).astype(np.float64)) if math.prod(t.dims) <= 64 else None
            sizes = values is not None and node.op_type == "Resize" and t.data_type == 7  # Resize's sizes: pixels
            if values is None or values.size and values.max() > (2 ** 14 if sizes else limit):
                raise GraphError(f"{name}: a {node.op_type} asks for an output far larger than its input "
                                 f"(a constant of {list(t.dims)[:4]} values up to {values.max() if values is not None else '?'})")


MAX_ACTIVATION_ELEMENTS = 2 ** 24  # any one tensor a graph makes for one input: 64 MB of float32
SIZED_OPS = {"ConvTranspose", "Resize", "Upsample", "Pad"}  # outputs larger than their inputs and weights


def check_sizes(data: bytes, name: str, input_shape: list[int], role: str = "encoder") -> None:
    """Every tensor the graph makes for one input of input_shape (batch 1), from ONNX's static shape inference,
    before anything runs: a few hundred bytes of ConvTranspose with large strides would otherwise ask for
    gigabytes. An operator that can grow its input must have an inferred output shape."""
    import onnx
    from onnx import shape_inference

    proto = onnx.ModelProto.FromString(data)
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    dims = inputs[0].type.tensor_type.shape.dim
    declared = [d.dim_value or d.dim_param or "?" for d in dims]
    fits = len(dims) == len(input_shape) and all(
        not d.HasField("dim_value") or d.dim_value == n or i == 0  # a fixed batch is kept (run row by row)
        for i, (d, n) in enumerate(zip(dims, input_shape)))
    if not fits:
        hint = ("check image_shape and layout" if role == "encoder" else
                f"a decoder takes codes of the size the encoder gives ({input_shape[-1]}): check encoder_output, "
                "and that the two graphs are not swapped")
        raise GraphError(f"{name}: the {role} graph's input is declared {declared}, but it is given {input_shape}; "
                         f"{hint}")
    for i, (d, n) in enumerate(zip(dims, input_shape)):
        if i == 0 and d.HasField("dim_value"):
            continue
        d.Clear()
        d.dim_value = n
    try:
        inferred = shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True)
    except Exception as e:  # inference errors on a malformed graph
        raise GraphError(f"{name}: its shapes cannot be worked out ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:160]})") from None
    shapes = {v.name: declared_shape(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for node in inferred.graph.node:
        for out in [o for o in node.output if o]:
            dims_out = shapes.get(out)
            known = dims_out is not None and all(isinstance(v, int) and v >= 0 for v in dims_out) and dims_out != []
            if not known:
                if node.op_type in SIZED_OPS:
                    raise GraphError(f"{name}: the size of a {node.op_type}'s output cannot be worked out before it "
                                     "runs, so its memory cannot be bounded")
                continue
            if math.prod(dims_out) > MAX_ACTIVATION_ELEMENTS:
                raise GraphError(f"{name}: a {node.op_type} makes a tensor of shape {dims_out} for one input, over "
                                 f"the cap of {MAX_ACTIVATION_ELEMENTS:,} values")


def declared_shape(info) -> list[int | str]:
    """A graph input's or output's shape as the file declares it: numbers, or names for free sizes."""
    t = info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
