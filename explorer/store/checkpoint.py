"""One-file checkpoints: weights in safetensors, everything else as JSON in its header.

Loading never unpickles, so an untrusted file cannot run code. Writes are atomic.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..data.ref import DatasetRef
from ..model.devices import resolve_device
from ..model.config import IMPORTED
from ..model.imported import ImportedModel
from ..model.latent_model import LatentModel, build_model
from ..train.history import upgrade_history
from .atomic import atomic_write
from .vaex_file import SUFFIX, load_imported, save_imported
from .header import (CheckpointError, FORMAT_VERSION, MAX_HEADER, META_KEY, check_data_length, check_usable,
                     looks_like_pickle, read_header)


__all__ = ["Checkpoint", "CheckpointError", "FORMAT_VERSION", "load_checkpoint", "load_checkpoint_bytes",
           "load_model", "read_metadata", "read_metadata_bytes", "save_model"]


@dataclass
class Checkpoint:
    """A loaded file: the model (eval mode, its metadata in model.metadata), the record of its data, and
    the optimizer state a resume needs (None when the file has none)."""

    model: LatentModel  # its history, train_config and metrics in model.metadata
    dataset: DatasetRef
    optimizer_state: dict | None


def save_model(model: LatentModel, path: str | os.PathLike, *, optimizer: torch.optim.Optimizer | None = None,
               **metadata: Any) -> Path:
    """Write model (and optionally optimizer state) with JSON metadata (dataset, history, metrics...).

    The file is replaced atomically: a crash mid-write leaves the previous checkpoint as it was.
    """
    path = Path(path)
    if isinstance(model, ImportedModel):  # two ONNX graphs and their card (explorer.store.vaex_file)
        if path.suffix != SUFFIX:
            raise ValueError(f"a model trained elsewhere is saved as a {SUFFIX} file, not {path.suffix or 'no suffix'}")
        return save_imported(model, path, **metadata)
    if path.suffix == SUFFIX:
        raise ValueError(f"{SUFFIX} files hold models trained elsewhere; a model trained here is saved as .safetensors")
    clash = [k for k in ("config", "optimizer") if k in metadata]
    if clash:
        raise TypeError(f"metadata keys {clash} are reserved by the checkpoint format")
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # format_version is ours: a stale one passed back in (save_model(m, p, **m.metadata)) is overwritten.
    meta: dict[str, Any] = {**metadata, "format_version": FORMAT_VERSION, "config": model.config.to_dict()}
    if model.pixels is not None:  # the data the weights explain is part of what they mean
        levels = {"levels": model.levels} if model.pixels == "dequantized" else {}
        meta["dataset"] = {**(meta.get("dataset") or {}), "pixels": model.pixels, **levels}
    if optimizer is not None:
        opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
        tensors.update(opt_tensors)
        meta["optimizer"] = opt_meta
    try:
        header = json.dumps(meta, allow_nan=True)
    except TypeError as e:
        raise TypeError(f"checkpoint metadata must be JSON-serialisable: {e}") from e
    blob = st_save(tensors, metadata={META_KEY: header})
    atomic_write(path, blob)
    return path


def load_model(path: str | os.PathLike, device: str | torch.device | None = None) -> LatentModel:
    """The model in eval mode (on CPU unless a device is given); its metadata in model.metadata."""
    return load_checkpoint(path, device=device).model


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None) -> Checkpoint:
    """The model in eval mode, its DatasetRef, and the optimizer state_dict or None."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return load_checkpoint_bytes(path.read_bytes(), name=str(path), device=device)


def load_checkpoint_bytes(data: bytes, name: str = "checkpoint", device: str | torch.device | None = None
                          ) -> Checkpoint:
    # Everything the header says is checked against the file's length and the config's shapes first:
    # what is allocated below is then bounded by the file's real size.
    header, meta, config = read_header(data, name)
    check_data_length(header, data, name)
    target = resolve_device(device) if device is not None else None  # DeviceError before any work
    if config.arch == IMPORTED:
        model = load_imported(data, header, meta, name, target)
        return Checkpoint(model, _dataset_ref(model.metadata, config.likelihood, name), None)
    try:
        tensors = st_load(data)  # safetensors: raw tensor bytes, never a pickle
    except Exception as e:  # SafetensorError and friends: bad offsets, bad dtype
        raise CheckpointError(f"{name}: damaged safetensors data ({e})") from None
    _check_finite(tensors, name)
    ref = _dataset_ref(meta, config.likelihood, name)
    model = build_model(config, pixels=ref.pixels, levels=ref.levels)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state)
    model.metadata = {k: v for k, v in meta.items() if k not in ("config", "optimizer")}
    model.metadata["dataset"] = ref.to_dict()  # an older file's record gains its pixel rule
    try:  # an older file's history held the bound under "elbo" (explorer.train.history)
        upgrade_history(model.metadata.get("history") or {}, int((meta.get("train_config") or {}).get("iwae_k", 1)))
    except ValueError as e:
        raise CheckpointError(f"{name}: {e}") from None
    model.eval()
    check_usable(model, config.image_shape, name)  # on CPU, before any device
    if target is not None:
        model.to(target)
    opt_state = None
    if meta.get("optimizer") is not None:
        try:
            opt_state = _unflatten_optimizer(tensors, meta["optimizer"])
            _check_optimizer(model, opt_state)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise CheckpointError(f"{name}: damaged optimizer state ({type(e).__name__}: {e})") from e
    return Checkpoint(model, ref, opt_state)


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata alone (config, dataset, history, metrics), without building the model.

    Reads only the file's header, so listing many checkpoints stays cheap.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(9)  # the length, and the first byte of the JSON header
        if len(head) == 9 and not looks_like_pickle(head):
            (n,) = struct.unpack("<Q", head[:8])
            head += f.read(max(0, min(n, MAX_HEADER) - 1))
    header, meta, config = read_header(head, str(path))
    check_data_length(header, head, str(path), file_size=path.stat().st_size)
    _dataset_ref(meta, config.likelihood, str(path))  # a record loading would refuse is refused here too
    return {**meta, "config": config.to_dict()}  # every config key, defaults filled in


def read_metadata_bytes(data: bytes, name: str = "checkpoint") -> dict:
    _, meta, config = read_header(data, name)
    return {**meta, "config": config.to_dict()}  # every config key, defaults filled in


def _dataset_ref(meta: dict, likelihood: str, name: str) -> DatasetRef:
    try:
        return DatasetRef.from_metadata(meta, likelihood)
    except ValueError as e:
        raise CheckpointError(f"{name}: metadata['dataset'] is not usable ({e})") from None


def _check_finite(tensors: dict[str, torch.Tensor], name: str) -> None:
    """NaN or infinite weights (a training that diverged) would draw black images and NaN scores."""
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(f"{name}: {len(bad)} tensor(s) hold NaN or infinite values ({', '.join(bad[:3])}): "
                              "the weights are unusable (a training that diverged?), so the file is refused")


def _check_optimizer(model: LatentModel, opt_state: dict) -> None:
    """Per-parameter moments (Adam's exp_avg, exp_avg_sq) must have their parameter's shape."""
    params = list(model.parameters())
    for idx, entry in opt_state["state"].items():
        for key, val in entry.items():
            if torch.is_tensor(val) and val.dim() > 0 and val.shape != params[idx].shape:
                raise ValueError(f"state {idx}.{key} has shape {tuple(val.shape)}, "
                                 f"parameter has {tuple(params[idx].shape)}")


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
