"""codes.npz: a model's posterior means and stds over a data set, with labels, indices and a record that ties
the file to its model (the checkpoint's digest, the split, the pixel rule). Plain arrays and one JSON string:
nothing pickled. Written byte for byte the same for the same codes (fixed zip dates, sorted keys), so a run
over several processes can be checked against one process by comparing files.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.ref import DatasetRef
from ..data.splits import SplitImages, train_seed
from ..model.encoding import Encoding
from ..model.probe import require_finite
from .atomic import atomic_write
from .file_cache import file_digest

FORMAT = "vae-explorer-codes"
VERSION = 1
ARRAYS = ("mean", "std", "labels", "indices", "from_train")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip's dates: a fixed one, so equal codes give equal bytes
MAX_CODES_BYTES = 512 * 2**20  # unpacked arrays read at most: 1,000,000 codes of a 50-D latent fit


class CodesError(ValueError):
    """A codes file that is not one, is damaged, or belongs to another model; the message is one line."""


@dataclass
class Codes:
    mean: np.ndarray  # (N, D) float32
    std: np.ndarray  # (N, D) float32; 0 for an autoencoder
    labels: np.ndarray  # (N,) int64, -1 where there is none
    indices: np.ndarray  # (N,) int64: each image's index in its own split
    from_train: np.ndarray  # (N,) bool
    meta: dict[str, Any]


def codes_metadata(checkpoint: str | Path, model, split: str, images: str | None = None) -> dict[str, Any]:
    """What ties codes to their model and images: digest, data set, split, pixel rule and the noise seeds."""
    ref = DatasetRef.of(model)
    meta = {"format": FORMAT, "version": VERSION, "checkpoint": Path(checkpoint).name,
            "digest": file_digest(checkpoint), "kind": model.config.kind, "latent_dim": model.latent_dim,
            "dataset": ref.name, "test_split": ref.split, "split": split, "pixels": ref.pixels,
            "levels": ref.levels, "test_seed": ref.test_seed, "train_seed": train_seed(ref)}
    if images:
        meta["images"] = Path(images).name
    return meta


def write_codes(path: str | Path, enc: Encoding, data: SplitImages, meta: dict[str, Any]) -> None:
    """Write the file atomically: its arrays, and meta (with n) as a JSON string. A ValueError, and no file,
    for a non-finite mean or std: read_codes would refuse that file, and its points would mean nothing."""
    for what, a in (("mean", enc.mean), ("std", enc.std)):
        require_finite(a, f"posterior {what}s", then=", so no codes file is written")
    arrays = {"mean": enc.mean.astype(np.float32), "std": enc.std.astype(np.float32),
              "labels": data.labels.numpy().astype(np.int64), "indices": data.indices.numpy().astype(np.int64),
              "from_train": data.from_train.numpy().astype(bool),
              "meta": np.array(json.dumps({**meta, "n": len(enc.mean)}, sort_keys=True))}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(a, order="C"), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", _EPOCH), member.getvalue())
    atomic_write(Path(path), buf.getvalue())


def read_codes(path: str | Path | bytes, checkpoint: str | Path | None = None, *,
               max_bytes: int = MAX_CODES_BYTES, name: str | None = None) -> Codes:
    """The codes in path (or in the bytes of an upload, called name in messages); a CodesError when it is no
    codes file, is larger than max_bytes unpacked, is inconsistent, or (checkpoint given) was encoded by another
    model. Untrusted numbers: nothing unpickled, every member's size read before it is, every float finite."""
    name = name or ("the file" if isinstance(path, bytes) else str(path))
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    not_codes = CodesError(f"{name} is not a codes file (python -m explorer encode writes them)")
    try:
        with zipfile.ZipFile(source) as z:  # a member can hold no more than its declared size: zipfile stops it
            size = sum(i.file_size for i in z.infolist())
    except FileNotFoundError:
        raise
    except (OSError, zipfile.BadZipFile):
        raise not_codes from None
    if size > max_bytes:
        raise CodesError(f"{name} holds {size / 2**20:,.0f} MB of arrays, more than the {max_bytes / 2**20:,.0f} MB "
                         "allowed here")
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        with np.load(source, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("meta").item()))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError):
        raise not_codes from None  # damaged deflate data, an unknown compression, an encrypted member: not ours
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or any(k not in arrays for k in ARRAYS):
        raise not_codes
    _check_arrays(arrays, meta, name)
    if checkpoint is not None and meta.get("digest") != file_digest(checkpoint):
        raise CodesError(f"{name} holds codes of another model ({meta.get('checkpoint')}, digest "
                         f"{meta.get('digest')}), not of {Path(checkpoint).name} ({file_digest(checkpoint)})")
    return Codes(**{k: arrays[k] for k in ARRAYS}, meta=meta)


def _check_arrays(arrays: dict[str, np.ndarray], meta: dict[str, Any], name: str) -> None:
    """A CodesError unless the arrays have the shapes and kinds the record says: finite float codes, std >= 0,
    whole-number labels from -1 and indices from 0, a boolean from_train."""
    n, d = len(arrays["mean"]), meta.get("latent_dim")
    mean, std = arrays["mean"], arrays["std"]
    kinds_ok = (mean.dtype.kind == std.dtype.kind == "f" and arrays["from_train"].dtype == bool
                and arrays["labels"].dtype.kind in "iu" and arrays["indices"].dtype.kind in "iu")
    shapes_ok = (kinds_ok and isinstance(d, int) and mean.shape == std.shape == (n, d) and meta.get("n") == n
                 and all(arrays[k].shape == (n,) for k in ("labels", "indices", "from_train")))
    if not shapes_ok or not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std < 0).any():
        raise CodesError(f"{name} is damaged: its arrays do not match its record ({n} rows, latent {d})")
    if n and (arrays["labels"].min() < -1 or arrays["indices"].min() < 0):
        raise CodesError(f"{name} is damaged: a label below -1 or an index below 0")
