"""Where dataset files are looked for, in order: an explicit directory, $EXPLORER_DATA_DIR, the user cache.

A directory may hold the files itself or in a subfolder named after the dataset (`<dir>/mnist/...`);
the subfolder is looked at first, since MNIST and Fashion-MNIST use the same file names.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EXPLORER_DATA_DIR"


def cache_dir(name: str) -> Path:
    """Per-user cache for a dataset: $XDG_CACHE_HOME (or ~/.cache)/vae-explorer/<name>."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "vae-explorer" / name


def search_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    for root in (data_dir, os.environ.get(ENV_VAR)):
        if root:
            root = Path(root).expanduser()
            dirs += [root / name, root]
    return dirs + [cache_dir(name)]


def find_file(directory: Path, filename: str) -> Path | None:
    """The file as named, or unpacked (without .gz): people often gunzip IDX files."""
    for candidate in (filename, filename.removesuffix(".gz")):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def find_all(name: str, filenames: list[str], data_dir: str | Path | None = None) -> dict[str, Path] | None:
    """filename -> path, from the first directory that holds every one of the files; None if none does."""
    for d in search_dirs(name, data_dir):
        found = {f: find_file(d, f) for f in filenames}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None
