"""One-file checkpoints: weights in safetensors, everything else as JSON in its header.

Loading never unpickles, so an untrusted file cannot run code. Writes are atomic.
"""
from __future__ import annotations

import json
import os
import secrets
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import ModelConfig
from .devices import resolve_device
from .model import LatentModel, build_model

FORMAT_VERSION = 1
_META_KEY = "explorer"
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the JSON header


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded, with the reason in words."""


def save_model(model: LatentModel, path: str | os.PathLike, *, optimizer: torch.optim.Optimizer | None = None,
               **metadata: Any) -> Path:
    """Write model (and optionally optimizer state) with JSON metadata (dataset, history, metrics...).

    The file is replaced atomically: a crash mid-write leaves the previous checkpoint as it was.
    """
    path = Path(path)
    clash = [k for k in ("config", "optimizer") if k in metadata]
    if clash:
        raise TypeError(f"metadata keys {clash} are reserved by the checkpoint format")
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # format_version is ours: a stale one passed back in (save_model(m, p, **m.metadata)) is overwritten.
    meta: dict[str, Any] = {**metadata, "format_version": FORMAT_VERSION, "config": model.config.to_dict()}
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
    header, meta = _read_header(data, name)
    _check_data_length(header, data, name)
    target = resolve_device(device) if device is not None else None  # DeviceError before any work
    try:
        tensors = st_load(data)  # safetensors: raw tensor bytes, never a pickle
    except Exception as e:  # SafetensorError and friends: bad offsets, bad dtype
        raise CheckpointError(f"{name}: damaged safetensors data ({e})") from e
    try:
        config = ModelConfig.from_dict(meta["config"])
        model = build_model(config)  # may still refuse, e.g. an image too small for the conv stack
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{name}: invalid model config in metadata ({type(e).__name__}: {e})") from e
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    _check_state(model, state, name)
    model.load_state_dict(state)
    model.metadata = {k: v for k, v in meta.items() if k not in ("config", "optimizer")}
    model.eval()
    if target is not None:
        model.to(target)
    opt_state = None
    if meta.get("optimizer") is not None:
        try:
            opt_state = _unflatten_optimizer(tensors, meta["optimizer"])
            _check_optimizer(model, opt_state)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise CheckpointError(f"{name}: damaged optimizer state ({type(e).__name__}: {e})") from e
    return model, opt_state


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata alone (config, dataset, history, metrics), without building the model.

    Reads only the file's header, so listing many checkpoints stays cheap.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8 and not _looks_like_pickle(head):
            (n,) = struct.unpack("<Q", head)
            head += f.read(min(n, _MAX_HEADER))
    return read_metadata_bytes(head, str(path))


def read_metadata_bytes(data: bytes, name: str = "checkpoint") -> dict:
    return _read_header(data, name)[1]


def _looks_like_pickle(data: bytes) -> bool:
    # torch.save: a zip archive ("PK\x03\x04"), or a bare pickle (protocol 2+ starts with \x80 and
    # the protocol number) in the legacy format.
    return data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))


def _read_header(data: bytes, name: str) -> tuple[dict, dict]:
    """(safetensors header, our metadata), with a CheckpointError that says what is wrong."""
    if _looks_like_pickle(data):
        raise CheckpointError(f"{name}: this is a pickle / torch.save file, not a VAE Explorer checkpoint; "
                              "pickles can run code, so they are never loaded")
    if len(data) < 8:
        raise CheckpointError(f"{name}: file is truncated or empty ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])  # safetensors: u64 little-endian header length, then JSON
    if n > _MAX_HEADER:
        raise CheckpointError(f"{name}: not a safetensors checkpoint (it does not start with a safetensors "
                              "header); checkpoints are the .safetensors files written by the Train page or "
                              "`python -m explorer train`")
    if n > len(data) - 8:
        raise CheckpointError(f"{name}: file is truncated or not a safetensors file "
                              f"(header says {n} bytes, file has {len(data) - 8})")
    try:
        header = json.loads(data[8:8 + n])
        meta = json.loads(header["__metadata__"][_META_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{name}: not a VAE Explorer checkpoint (no readable metadata: "
                              f"{type(e).__name__}: {e})") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: not a VAE Explorer checkpoint (metadata is not a JSON object)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{name}: checkpoint format version {version!r}; this program reads {FORMAT_VERSION}")
    return header, meta


def _check_data_length(header: dict, data: bytes, name: str) -> None:
    """The tensor bytes the header promises must all be there (a cut-off copy, a full disk)."""
    (n,) = struct.unpack("<Q", data[:8])
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(f"{name}: damaged safetensors header ({type(e).__name__}: {e})") from e
    have = len(data) - 8 - n
    if have < end:
        raise CheckpointError(f"{name}: file is truncated (tensor data has {have} of {end} bytes)")


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


def _atomic_write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a temporary file beside the target, then rename over it: readers see the old file or the
    # new one, never half of one.
    # O_EXCL with mode 0666 lets the umask apply, as for a plain open() (mkstemp would force 0600).
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():  # overwriting keeps the old file's permissions, as open("wb") would
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)

