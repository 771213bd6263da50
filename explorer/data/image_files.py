"""A person's own images for the map of a model trained elsewhere: a folder of pictures (or a .zip of one), an
.npz or .npy array (N, H, W), (N, C, H, W) or (N, H, W, C) with optional labels, or an IDX file. All of them become the test
split (what the map shows); values are grey levels in [0, 1] (bytes are divided by 255)."""
from __future__ import annotations

import math
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from .base import ImageDataset
from .folder import load_folder
from .idx import read_idx

MAX_ZIP_FILES, MAX_ZIP_BYTES = 100_000, 2 * 2 ** 30  # a zipped folder: a bomb stops at these
MAX_ARRAY_BYTES = 2 * 2 ** 30  # what an array may claim; 70,000 MNIST images are 55 MB as bytes
IMAGE_KEYS = ("images", "x", "x_test", "X", "arr_0")
LABEL_KEYS = ("labels", "y", "y_test", "Y", "arr_1")


def load_images(path: str | Path, image_shape: tuple[int, int, int]) -> ImageDataset:
    """The images at path, checked against the model's (C, H, W); a ValueError in one line otherwise."""
    path = Path(path).expanduser()
    c, h, w = image_shape
    if path.is_dir():
        d = load_folder(path, size=(h, w), rgb=c == 3, test_fraction=0.0)
        return ImageDataset("images", d.train_x[:0], None, d.train_x, d.train_y, d.classes, d.notes)
    if path.name.lower().endswith(".zip"):
        with tempfile.TemporaryDirectory() as tmp:
            root = _unzip(path, Path(tmp))
            return load_images(root, image_shape)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder of images")
    name = path.name.lower()
    if name.endswith(".npz"):
        x, y = _npz(path)
    elif name.endswith(".npy"):
        x, y = _npy(path), None
    elif "ubyte" in name or name.endswith((".idx", ".idx.gz")):
        x, y = read_idx(path), None
    else:
        raise ValueError(f"{path}: images come as a folder of pictures (or a .zip of one), an .npz or .npy array, "
                         "or an IDX file")
    images = as_images(x, image_shape, path)
    labels = None if y is None else as_labels(y, len(images), path)
    return ImageDataset("images", images[:0], None, images, labels, [])


def _unzip(path: Path, dest: Path) -> Path:
    """A zipped folder of pictures into dest, and the folder to read (the one folder it holds, if so): sizes
    capped before reading, a name that could leave dest ("..", absolute) skipped, folders kept (the classes)."""
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise ValueError(f"{path}: over {MAX_ZIP_FILES:,} files or {MAX_ZIP_BYTES // 2 ** 30} GB unpacked")
            for i, m in enumerate(members):
                parts = Path(m.filename.replace("\\", "/")).parts
                if not parts or m.filename.startswith("/") or any(p in ("..", "") or ":" in p for p in parts):
                    continue
                target = dest.joinpath(*parts[:-1], f"{i}-{parts[-1]}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(m) as src, open(target, "wb") as out:
                    out.write(src.read(MAX_ZIP_BYTES))
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as e:
        raise ValueError(f"{path}: not a readable .zip file ({type(e).__name__})") from None
    inside = [p for p in dest.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    return inside[0] if len(inside) == 1 and inside[0].is_dir() else dest


def _npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        _check_header(f, path, path.stat().st_size)
        f.seek(0)
        return np.load(f, allow_pickle=False)


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with zipfile.ZipFile(path) as z:
            names = {n[:-4]: n for n in z.namelist() if n.endswith(".npy")}
            key = next((k for k in IMAGE_KEYS if k in names), next(iter(names), None))
            if key is None:
                raise ValueError(f"{path}: the .npz holds no arrays")
            label_key = next((k for k in LABEL_KEYS if k in names and k != key), None)
            out = []
            for k in (key, label_key):
                if k is None:
                    out.append(None)
                    continue
                with z.open(names[k]) as f:
                    _check_header(f, path, z.getinfo(names[k]).file_size)
                with z.open(names[k]) as f:
                    out.append(np.load(f, allow_pickle=False))
            return out[0], out[1]
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__})") from None


def _check_header(f, path: Path, size: int) -> None:
    """The array's claimed size against the cap and against the bytes really there, before any allocation."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)  # the header alone; object arrays are refused below
    except ValueError as e:
        raise ValueError(f"{path}: not a numpy array file ({str(e).splitlines()[0][:100]})") from None
    claimed = math.prod(shape) * dtype.itemsize
    if dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects, which are never loaded (pickles can run code)")
    if claimed > min(MAX_ARRAY_BYTES, size):
        raise ValueError(f"{path}: claims an array of shape {shape} ({claimed:,} bytes), more than the file holds "
                         f"or the {MAX_ARRAY_BYTES // 2 ** 30} GB cap")


def as_images(x: np.ndarray, image_shape: tuple[int, int, int], path: Path | str) -> torch.Tensor:
    """An array of images (N, H, W), (N, C, H, W), (N, H, W, C) or flat rows as (N, C, H, W) grey levels in [0, 1]
    (bytes, and numbers up to 255, are divided by 255); a ValueError naming path (where they came from) otherwise."""
    c, h, w = image_shape
    if x.ndim == 3 and c == 1:
        x = x[:, None]
    elif x.ndim == 2 and x.shape[1] == c * h * w:
        x = x.reshape(len(x), c, h, w)
    elif x.ndim == 4 and tuple(x.shape[1:]) == (h, w, c) and tuple(x.shape[1:]) != (c, h, w):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or tuple(x.shape[1:]) != (c, h, w):
        raise ValueError(f"{path}: images of shape {tuple(x.shape[1:])}, but the model takes {c}x{h}x{w} "
                         "(C x H x W): give images of the model's size")
    if not len(x):
        raise ValueError(f"{path}: holds no images")
    if x.dtype == np.uint8:
        return torch.from_numpy(x.astype(np.float32) / 255.0)
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{path}: images must be numbers, got {x.dtype}")
    x = x.astype(np.float32)
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if not np.isfinite(x).all() or lo < 0 or hi > 255:
        raise ValueError(f"{path}: pixel values run from {lo:g} to {hi:g}; give grey levels in [0, 1] or 0..255")
    return torch.from_numpy(x / 255.0 if hi > 1 else x)


def as_labels(y: np.ndarray, n: int, path: Path | str) -> torch.Tensor:
    """One whole number >= 0 per image, as int64; a ValueError naming path otherwise."""
    y = np.asarray(y).reshape(-1)
    if len(y) != n or not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise ValueError(f"{path}: {len(y)} labels for {n} images; labels must be whole numbers >= 0, one per image")
    return torch.from_numpy(y.astype(np.int64))
