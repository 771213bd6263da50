"""Arrays kept on disk between processes, so that `python -m explorer warm` can do a server's slow work
before class. Folder: EXPLORER_CACHE_DIR, else $XDG_CACHE_HOME/vae-explorer, else ~/.cache/vae-explorer.
Files are .npz of plain arrays (nothing pickled), written atomically (a temporary file, then a rename); one
that cannot be read as expected is ignored (and later overwritten), never an error."""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CACHE_ENV = "EXPLORER_CACHE_DIR"
VERSION = "v1"  # in every file name: bump when what a file holds changes meaning
_hashes: dict[tuple[str, float, int], str] = {}


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vae-explorer"


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of the file's SHA-256 (remembered per path, mtime and size)."""
    st = os.stat(path)
    key = (str(path), st.st_mtime, st.st_size)
    if key not in _hashes:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _hashes[key] = h.hexdigest()[:16]
    return _hashes[key]


def _path(name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.," else "_" for c in name)
    return cache_dir() / f"{VERSION}-{safe}.npz"


def load(name: str, expect: dict[str, tuple] | None = None) -> dict[str, np.ndarray] | None:
    """The arrays saved under name, or None when there are none or the file is unreadable. expect: array
    name -> shape (None in a shape: any size) that must match, else None."""
    try:
        with np.load(_path(name), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None
    for k, shape in (expect or {}).items():
        a = arrays.get(k)
        if a is None or a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            return None
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            return None
    return arrays


def save(name: str, arrays: dict[str, np.ndarray]) -> bool:
    """Write arrays under name atomically; False (nothing written) if the folder cannot be written."""
    path = _path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return False
    return True
