"""Reader for the IDX format of MNIST and Fashion-MNIST (gzip or raw)."""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

# MNIST's training images, the largest file read, unpack to 47 MB: a file that unpacks to more is no dataset
# file (a gzip bomb of 1 MB can unpack to gigabytes), so reading stops there.
MAX_CONTENT_BYTES = 64 * 2**20
CHUNK = 1 << 20


def read_idx(path: str | Path) -> np.ndarray:
    return parse_idx(read_content(path), path)


def read_content(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in .gz (the official MD5s are of these bytes); a
    ValueError past MAX_CONTENT_BYTES."""
    return b"".join(content_chunks(path))


def content_chunks(path: str | Path) -> Iterator[bytes]:
    """The file's content (gunzipped for .gz) in chunks, so a checksum needs no copy of it all."""
    path = Path(path)
    total = 0
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            while chunk := f.read(CHUNK):
                total += len(chunk)
                if total > MAX_CONTENT_BYTES:
                    raise ValueError(f"{path}: unpacks to more than {MAX_CONTENT_BYTES // 2**20} MB, more than "
                                     "any dataset file this program reads")
                yield chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ValueError(f"{path}: not a valid gzip file ({e})") from e


def parse_idx(data: bytes, where: str | Path = "IDX data") -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{where}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise ValueError(f"{where}: IDX type {data[2]:#x} is not unsigned bytes")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{where}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{where}: truncated IDX file ({body.size} values, header says {shape})")
    return body.reshape(shape)
