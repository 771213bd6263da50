"""A checkpoint's header, read and checked before any tensor is touched.

What the header promises is compared with what the file holds and with what its model config needs, so
that a 5 KB file claiming a model of 10**6 hidden units is refused before anything is allocated: memory
stays bounded by the real size of the file.
"""
from __future__ import annotations

import json
import math
import struct

import torch

from ..model.config import IMPORTED, ModelConfig
from ..model.conventions import ConventionError
from ..model.imported import ImportCard
from ..model.latent_model import LatentModel
from ..model.onnx_checks import MAX_GRAPH_BYTES
from ..model.probe import non_finite
from .schema import SchemaError, check_metadata

FORMAT_VERSION = 1
META_KEY = "explorer"
MAX_HEADER = 100 * 2**20  # safetensors' own limit on the JSON header
FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # what a weight may be stored as


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded, with the reason in words."""


def looks_like_pickle(data: bytes) -> bool:
    # torch.save: a zip archive ("PK\x03\x04"), or a bare pickle (protocol 2+ starts with \x80 and
    # the protocol number) in the legacy format. A safetensors header of 640, 896, 1152 or 1408 bytes starts
    # with the same two bytes: its JSON (at byte 8, opening with "{") tells them apart.
    if data[8:9] == b"{":
        return False
    return data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))


def read_header(data: bytes, name: str) -> tuple[dict, dict, ModelConfig]:
    """(safetensors header, our metadata, model config), every part checked; a CheckpointError otherwise.

    data may be the whole file or only its first 8 + header-length bytes.
    """
    header, meta = _parse(data, name)
    if not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{name}: invalid model config in metadata (no config object)")
    try:
        check_metadata(meta)
    except SchemaError as e:
        raise CheckpointError(f"{name}: invalid metadata: {e}") from e
    if "imported" in meta:  # a model trained elsewhere (.vaex): two ONNX graphs and the card that reads them
        config = import_card(meta, name).config()
        check_graphs(header, name)
        return header, meta, config
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid model config in metadata ({e})") from e
    if config.arch == IMPORTED:
        raise CheckpointError(f"{name}: an imported model's file without its card (metadata['imported'])")
    check_shapes(header, config, name)
    return header, meta, config


GRAPH_KEYS = ("graph.encoder", "graph.decoder")  # a .vaex file's two tensors: each an ONNX graph's bytes


def import_card(meta: dict, name: str) -> ImportCard:
    """The card of an imported model's file, every entry checked; a CheckpointError otherwise."""
    card = meta.get("imported")
    try:
        if not isinstance(card, dict):
            raise TypeError("not an object")
        known = set(ImportCard.__dataclass_fields__)
        if set(card) - known:
            raise TypeError(f"unknown entries {sorted(set(card) - known)[:5]}")
        c = ImportCard(**card)
        ModelConfig.from_dict(c.config().to_dict())  # shapes and sizes in range
        return c
    except (TypeError, ValueError, ConventionError) as e:
        raise CheckpointError(f"{name}: invalid card of an imported model ({str(e)[:300]})") from None


def check_graphs(header: dict, name: str) -> None:
    """Exactly the two graphs, stored as bytes whose size the header states truly, each under the cap."""
    keys = sorted(k for k in header if k != "__metadata__")
    if keys != sorted(GRAPH_KEYS):
        raise CheckpointError(f"{name}: an imported model's file holds exactly {' and '.join(GRAPH_KEYS)}; this "
                              f"one holds {', '.join(k[:40] for k in keys[:5]) or 'nothing'}")
    for k in GRAPH_KEYS:
        v = header[k]
        start, end = v["data_offsets"]
        if v["dtype"] != "U8" or len(v["shape"]) != 1 or end - start != v["shape"][0]:
            raise CheckpointError(f"{name}: damaged header ({k} must be bytes whose size matches its offsets)")
        if end - start > MAX_GRAPH_BYTES:
            raise CheckpointError(f"{name}: {k} is {(end - start) / 2 ** 20:.0f} MB, over the "
                                  f"{MAX_GRAPH_BYTES // 2 ** 20} MB cap on a graph")


def _parse(data: bytes, name: str) -> tuple[dict, dict]:
    if looks_like_pickle(data):
        raise CheckpointError(f"{name}: this is a pickle / torch.save file, not a VAE Explorer checkpoint; "
                              "pickles can run code, so they are never loaded")
    if len(data) < 8:
        raise CheckpointError(f"{name}: file is truncated or empty ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])  # safetensors: u64 little-endian header length, then JSON
    if n > MAX_HEADER:
        raise CheckpointError(f"{name}: not a safetensors checkpoint (it does not start with a safetensors "
                              "header); checkpoints are the .safetensors files written by the Train page or "
                              "`python -m explorer train`")
    if n > len(data) - 8:
        raise CheckpointError(f"{name}: file is truncated or not a safetensors file "
                              f"(header says {n} bytes, file has {len(data) - 8})")
    try:
        header = json.loads(data[8:8 + n])
        meta = json.loads(header["__metadata__"][META_KEY])
    except RecursionError:
        raise CheckpointError(f"{name}: not a usable checkpoint (its header is nested too deeply)") from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:  # ValueError: bad JSON, huge ints
        raise CheckpointError(f"{name}: not a VAE Explorer checkpoint (no readable metadata: "
                              f"{type(e).__name__}: {_first_line(e)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: not a VAE Explorer checkpoint (metadata is not a JSON object)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        shown = repr(version) if len(repr(version)) <= 20 else "of the wrong type"
        raise CheckpointError(f"{name}: checkpoint format version {shown}; this program reads {FORMAT_VERSION}")
    _check_entries(header, name)
    return header, meta


def _check_entries(header: dict, name: str) -> None:
    """Each tensor entry is {dtype, shape, data_offsets} with whole, non-negative numbers."""
    for key, v in header.items():
        if key == "__metadata__":
            continue
        ok = (isinstance(v, dict) and isinstance(v.get("dtype"), str) and isinstance(v.get("shape"), list)
              and isinstance(v.get("data_offsets"), list) and len(v["data_offsets"]) == 2
              and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                      for s in v["shape"] + v["data_offsets"]))
        if not ok:
            raise CheckpointError(f"{name}: damaged safetensors header (entry {key[:60]!r} is not "
                                  "{dtype, shape, data_offsets})")


def check_data_length(header: dict, data: bytes, name: str, file_size: int | None = None) -> None:
    """The tensor bytes the header promises must all be there (a cut-off copy, a full disk, or a header that
    claims tensors of gigabytes). data: the file, or its header alone when file_size is given."""
    (n,) = struct.unpack("<Q", data[:8])
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    have = (len(data) if file_size is None else file_size) - 8 - n
    if have < end:
        raise CheckpointError(f"{name}: file is truncated (tensor data has {have} of {end} bytes)")


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every weight the config's model has, from the model's own code on the meta device,
    which allocates no memory however large the config."""
    with torch.device("meta"):
        model = LatentModel(config)
    return {f"model.{k}": tuple(v.shape) for k, v in model.state_dict().items()}


def check_shapes(header: dict, config: ModelConfig, name: str) -> None:
    """The header's model tensors are exactly those the config implies, in a float dtype, of the right size."""
    try:
        expected = expected_shapes(config)
    except (RuntimeError, ValueError, OverflowError, MemoryError) as e:  # e.g. sizes beyond int64
        raise CheckpointError(f"{name}: invalid model config in metadata ({_first_line(e)})") from None
    have = {k: v for k, v in header.items() if k.startswith("model.")}
    claimed = sum(math.prod(s) for s in expected.values())
    stored = sum(math.prod(v["shape"]) for v in have.values())
    missing = sorted(set(expected) - set(have))
    unexpected = sorted(set(have) - set(expected))
    wrong = [f"{k[6:]} {tuple(have[k]['shape'])} != {s}" for k, s in expected.items()
             if k in have and tuple(have[k]["shape"]) != s]
    if missing or unexpected or wrong or claimed != stored:
        parts = [f"{what} {items[:5]}" for what, items in
                 (("missing", [k[6:] for k in missing]), ("unexpected", [k[6:60] for k in unexpected]),
                  ("shape mismatch", wrong)) if items]
        raise CheckpointError(f"{name}: tensors do not match the model config (it describes {claimed:,} "
                              f"parameters, the file stores {stored:,}): {'; '.join(parts)}")
    for k, v in have.items():
        size = FLOAT_DTYPES.get(v["dtype"])
        if size is None:
            raise CheckpointError(f"{name}: weight {k[6:]} is stored as {v['dtype'][:10]!r}, not as floats")
        start, end = v["data_offsets"]
        if end - start != size * math.prod(v["shape"]):
            raise CheckpointError(f"{name}: damaged safetensors header (weight {k[6:]} has the wrong byte size)")


def _first_line(e: BaseException) -> str:
    """An exception's message cut to one line (a C++ error may carry a whole stack)."""
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def check_usable(model, image_shape, name: str) -> None:
    """A CheckpointError, in one line, when a probe batch or the prior's draws give non-finite parameters for
    q(z|x) or p(x|z) (explorer.model.probe): finite weights of 1e38 pass a NaN check and still overflow."""
    try:
        bad = non_finite(model, image_shape)
    except (RuntimeError, ValueError) as e:
        bad = f"the probe batch itself fails ({_first_line(e)[:200]})"
    if bad:
        raise CheckpointError(f"{name}: the model's numbers are unusable: {bad} is not finite (weights too large, "
                              "or a training that diverged?), so the file is refused")
