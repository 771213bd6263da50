"""A checkpoint's encodings and slow projections (t-SNE, UMAP), kept in the file cache under the
checkpoint's content digest and what else decides them; computed when missing. The app's caches and
`python -m explorer warm` both come here, so a warmed server finds what its first visitor would wait for."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ..data.ref import DatasetRef
from ..latent.map import fit_map
from ..latent.projection import PROJECTIONS, Projection
from ..latent.sharded import CHUNK, encode_sharded
from ..model.encoding import Encoding, encode
from ..model.latent_model import LatentModel
from ..model.progress import Progress, report
from ..train.distributed import world
from . import file_cache

ON_DISK = ("tsne", "umap")  # PCA and the latent axes take milliseconds: not worth a file
MEMORY_KEEP = 4  # whole-data-set encodings kept in memory (70,000 x 50-D means and stds: 28 MB each)
_memory: OrderedDict[str, Encoding] = OrderedDict()


def encoding_name(checkpoint: str | Path, model: LatentModel) -> str:
    """The file-cache name of this checkpoint's test-set encoding (content, split, pixel rule, device)."""
    ref = DatasetRef.of(model)
    device = next(model.parameters()).device.type
    return f"{file_cache.file_digest(checkpoint)}-{ref.split}-{ref.pixels}-{ref.test_seed}-{device}"


def cached_encoding(model: LatentModel, x: torch.Tensor, name: str | None,
                    progress: Progress | None = None) -> Encoding:
    """encode(model, x) (the caller puts the model in eval mode), read from the file cache under name when it
    is there (name None: no cache)."""
    d = model.latent_dim
    arrays = file_cache.load(f"{name}-enc", {"mean": (len(x), d), "std": (len(x), d)}) if name else None
    if arrays is not None:
        report(progress, 1.0, f"Read {len(x):,} encoded test images from the cache")
        return Encoding(arrays["mean"].astype(np.float32), arrays["std"].astype(np.float32))
    enc = encode(model, x, progress=progress)  # the model as it is: another thread may be using it
    if name:
        file_cache.save(f"{name}-enc", {"mean": enc.mean, "std": enc.std})
    return enc


def cached_projection(mean: np.ndarray, method: str, name: str | None,
                      progress: Progress | None = None) -> tuple[Projection, np.ndarray]:
    """fit_map(mean, method): its projection and coordinates, from the file cache for a slow method."""
    mean = np.array(mean)  # a copy: the encoding is shared by every session, and a fit must not write into it
    file = f"{name}-{method}-n{len(mean)}" if name and method in ON_DISK else None
    arrays = file_cache.load(file, {"coords": (len(mean), 2)}) if file else None
    if arrays is not None:
        report(progress, 1.0, f"Read the {PROJECTIONS[method].label} map of {len(mean):,} points from the cache")
        coords = arrays.pop("coords").astype(np.float64)
        return PROJECTIONS[method].from_arrays(arrays, mean), coords
    report(progress, 0.0, f"Fitting {PROJECTIONS[method].label} on {len(mean):,} points…")
    fitted = fit_map(mean, method, progress)
    if file:
        file_cache.save(file, {"coords": fitted.coords, **fitted.proj.to_arrays()})
    return fitted.proj, fitted.coords


def split_encoding_name(checkpoint: str | Path, model: LatentModel, split: str, n: int | None = None,
                        images: str | None = None, chunk: int = CHUNK) -> str | None:
    """The cache name of a split's encoding: the test split's whole is encoding_name's (the app's and warm's
    file), others add the split, n and a batch size of their own (it may change the last bits). None for a
    person's own images: the name cannot say which they are."""
    if images:
        return None
    return (encoding_name(checkpoint, model) + ("" if split == "test" else f"-{split}")
            + ("" if n is None else f"-n{n}") + ("" if chunk == CHUNK else f"-c{chunk}"))


def cached_split_encoding(model: LatentModel, x: torch.Tensor, name: str | None,
                          progress: Progress | None = None, chunk: int = CHUNK) -> Encoding | None:
    """encode_sharded(model, x): from memory, then the file cache, else encoded (and kept in both). Under
    torchrun every rank encodes its share (a rank that read a cache alone would leave the others waiting)
    and rank 0, which alone gets the result, writes it to the cache."""
    world_size, _ = world()
    d = model.latent_dim
    if world_size == 1 and name:
        if name in _memory:
            _memory.move_to_end(name)
            report(progress, 1.0, f"{len(x):,} encoded images were in memory")
            return _memory[name]
        arrays = file_cache.load(f"{name}-enc", {"mean": (len(x), d), "std": (len(x), d)})
        if arrays is not None:
            report(progress, 1.0, f"Read {len(x):,} encoded images from the cache")
            return _remember(name, Encoding(arrays["mean"].astype(np.float32), arrays["std"].astype(np.float32)))
    enc = encode_sharded(model, x, chunk, progress)
    if enc is not None and name:
        file_cache.save(f"{name}-enc", {"mean": enc.mean, "std": enc.std})
        _remember(name, enc)
    return enc


def _remember(name: str, enc: Encoding) -> Encoding:
    _memory[name] = enc
    while len(_memory) > MEMORY_KEEP:
        _memory.popitem(last=False)
    return enc
