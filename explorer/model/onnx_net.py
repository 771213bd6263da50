"""An ONNX graph (checked by onnx_checks) run by onnxruntime behind a torch module's call: tensors in, a list of
float32 tensors out, on the device of the input. CUDA when onnxruntime has it, else the CPU."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from torch import nn

from .onnx_checks import GraphError, declared_shape, parse_graph

CHUNK = 4096  # rows per run: a large map is encoded in slices, so memory stays bounded


class OnnxNet(nn.Module):
    """One graph with one float input; its outputs in the file's order."""

    def __init__(self, data: bytes, name: str):
        super().__init__()
        proto = parse_graph(data, name)
        inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
        if len(inputs) != 1:
            raise GraphError(f"{name}: has {len(inputs)} inputs; an encoder takes the images and a decoder the codes, "
                             "one input each")
        self.data, self.name = data, name
        self.input_name = inputs[0].name
        self.input_shape = declared_shape(inputs[0])  # e.g. ["batch", 1, 28, 28]; names for free sizes
        self.num_weights = sum(math.prod(t.dims) for t in proto.graph.initializer)
        self.digest = hashlib.sha256(data).hexdigest()[:16]
        self._session = None

    def __getstate__(self) -> dict:
        """A copy (copy.deepcopy of the model) builds its own session: one cannot be copied."""
        return {**self.__dict__, "_session": None}

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        if self._session is None:  # made on first use: a listing or a refused file never builds one
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = torch.get_num_threads()
            opts.log_severity_level = 4  # errors come back as one-line GraphErrors, not log lines
            have = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]
            try:
                self._session = ort.InferenceSession(self.data, opts, providers=providers)
            except Exception as e:  # onnxruntime's own errors: a graph the checks passed but ORT cannot load
                raise GraphError(f"{self.name}: onnxruntime cannot load this graph ({_first_line(e)})") from None
        try:
            return self._session.run(None, {self.input_name: x})
        except Exception as e:
            raise GraphError(f"{self.name}: the graph failed on input of shape {list(x.shape)} "
                             f"({_first_line(e)})") from None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs for a batch; a graph exported for one fixed batch size is run row by row."""
        arr = x.detach().to("cpu", torch.float32).numpy()
        fixed = self.input_shape[0] if self.input_shape and isinstance(self.input_shape[0], int) else None
        step = fixed if fixed else CHUNK
        if fixed and len(arr) % fixed:
            raise GraphError(f"{self.name}: the graph takes batches of exactly {fixed}, got {len(arr)} rows")
        parts = [self._run(np.ascontiguousarray(arr[i:i + step])) for i in range(0, max(len(arr), 1), step)]
        outs = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        return [torch.from_numpy(np.asarray(o, np.float32)).to(x.device) for o in outs]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
