"""One-file checkpoints: weights in safetensors, everything else as JSON in its header.

Loading never unpickles, so an untrusted file cannot run code. Writes are atomic.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import ModelConfig
from .model import LatentModel, build_model

FORMAT_VERSION = 1
_META_KEY = "explorer"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded, with the reason in words."""


def save_model(model: LatentModel, path: str | os.PathLike, *, optimizer: torch.optim.Optimizer | None = None,
               **metadata: Any) -> Path:
    """Write model (and optionally optimizer state) with JSON metadata (dataset, history, metrics...)."""
    path = Path(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "config": model.config.to_dict()}
    meta.update(metadata)
    if optimizer is not None:
        opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
        tensors.update(opt_tensors)
        meta["optimizer"] = opt_meta
    try:
        header = json.dumps(meta, allow_nan=True)
    except TypeError as e:
        raise TypeError(f"checkpoint metadata must be JSON-serialisable: {e}") from e
    blob = st_save(tensors, metadata={_META_KEY: header})
    _atomic_write(path, blob)
    return path


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> LatentModel:
    """The model in eval mode (on CPU unless a device is given); its metadata in model.metadata."""
    model, _ = load_checkpoint(path, device=device)
    return model


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None
                    ) -> tuple[LatentModel, dict | None]:
    """(model in eval mode, optimizer state_dict or None)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return load_checkpoint_bytes(path.read_bytes(), name=str(path), device=device)


def load_checkpoint_bytes(data: bytes, name: str = "checkpoint", device: str | torch.device | None = None
                          ) -> tuple[LatentModel, dict | None]:
    meta = read_metadata_bytes(data, name)
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception) as e:  # truncated data, bad offsets, bad dtype
        raise CheckpointError(f"{name}: damaged safetensors data ({e})") from e
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid model config in metadata ({e})") from e
    model = build_model(config)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    _check_state(model, state, name)
    model.load_state_dict(state)
    model.metadata = {k: v for k, v in meta.items() if k not in ("config", "optimizer")}
    model.eval()
    if device is not None:
        model.to(device)
    opt_state = None
    if "optimizer" in meta:
        opt_state = _unflatten_optimizer(tensors, meta["optimizer"])
    return model, opt_state


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata alone (config, dataset, history, metrics), without building the model."""
    return read_metadata_bytes(Path(path).read_bytes(), str(path))


def read_metadata_bytes(data: bytes, name: str = "checkpoint") -> dict:
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise CheckpointError(f"{name}: this is a pickle / torch.save file, not a VAE Explorer checkpoint; "
                              "pickles can run code, so they are never loaded")
    if len(data) < 8:
        raise CheckpointError(f"{name}: file is truncated ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise CheckpointError(f"{name}: file is truncated or not a safetensors file "
                              f"(header says {n} bytes, file has {len(data) - 8})")
    try:
        header = json.loads(data[8:8 + n])
        meta = json.loads(header["__metadata__"][_META_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{name}: not a VAE Explorer checkpoint (no readable metadata: {e})") from e
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{name}: checkpoint format version {version!r}; this program reads {FORMAT_VERSION}")
    return meta


def _check_state(model: LatentModel, state: dict[str, torch.Tensor], name: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}")
        if wrong:
            parts.append(f"shape mismatch {wrong[:5]}")
        raise CheckpointError(f"{name}: tensors do not match the model config: {'; '.join(parts)}")


def _flatten_optimizer(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, state_meta = {}, {}
    for idx, st in sd["state"].items():
        entry = {}
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{idx}.{key}"] = val.detach().cpu().contiguous()
                entry[key] = "tensor"
            else:
                entry[key] = val
        state_meta[str(idx)] = entry
    return tensors, {"param_groups": sd["param_groups"], "state": state_meta}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {k: (tensors[f"optim.{idx}.{k}"] if v == "tensor" else v) for k, v in entry.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def _atomic_write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
