"""A person's own images as a model's test split: uploaded in the sidebar, checked against the model's shape,
kept once per content under the cache folder (so sessions uploading the same file share its encoding), and
named "images:<digest>:<C>x<H>x<W>" wherever a data set's name goes (caches.test_set reads such names)."""
from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.data.image_files import load_images
from explorer.data.ref import DatasetRef
from explorer.model.latent_model import LatentModel
from explorer.store.file_cache import cache_dir
from explorer.ui.widgets.plain_text import plain

PREFIX = "images:"
UPLOAD_KEY = "images_upload"
BOX_KEY = "images_box"  # the expander's open state, one per default (a nameless model's opens by itself)
MAX_UPLOAD_BYTES = 512 * 2 ** 20  # the uploader's own limit is set in .streamlit/config.toml


def is_user_images(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


def _path(name: str) -> Path:
    _, digest, shape = name.split(":")
    if not (digest.isalnum() and shape.replace("x", "").isdigit()):
        raise ValueError(f"not a name of uploaded images: {name[:60]!r}")
    return cache_dir() / "images" / f"{digest}-{shape}.npz"


def store(data: bytes, filename: str, image_shape: tuple[int, int, int]) -> str:
    """The name of these uploaded images, checked and kept; a ValueError in one line for a bad file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{filename}: over {MAX_UPLOAD_BYTES // 2 ** 20} MB")
    name = f"{PREFIX}{hashlib.sha256(data).hexdigest()[:16]}:{'x'.join(map(str, image_shape))}"
    path = _path(name)
    if path.is_file():
        return name
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(filename).name)[-100:] or "upload"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / safe  # the name tells load_images the format (.npz, .npy, ...-ubyte.gz)
        src.write_bytes(data)
        try:
            d = load_images(src, image_shape)
        except (ValueError, OSError) as e:  # the message names the upload, not this server's temporary path
            raise ValueError(str(e).replace(str(src), filename)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.tmp.npz")
    labels = {} if d.test_y is None else {"labels": d.test_y.numpy()}
    classes = d.classes or ([str(i) for i in range(int(d.test_y.max()) + 1)] if d.test_y is not None else [])
    np.savez(part, images=d.test_x.numpy(), classes=np.array(classes, dtype=str), **labels)
    os.replace(part, path)  # whole or absent, whichever session wrote it
    return name


def load(name: str) -> ImageDataset:
    """The images kept under name (its test split; no training images)."""
    with np.load(_path(name), allow_pickle=False) as f:
        x = torch.from_numpy(f["images"])
        y = torch.from_numpy(f["labels"]) if "labels" in f.files else None
        classes = [str(c) for c in f["classes"]] if "classes" in f.files else []
    return ImageDataset(name, x[:0], None, x, y, classes)


def with_images(model: LatentModel, name: str) -> LatentModel:
    """A shallow copy of a (shared, read-only) model whose record names these images as its test split."""
    m = copy.copy(model)
    ds = {k: v for k, v in (model.metadata.get("dataset") or {}).items() if k in ("pixels", "levels", "test_seed")}
    m.metadata = {**model.metadata, "dataset": {**ds, "name": name}}
    return m


def choose(model: LatentModel, key: str) -> tuple[LatentModel, str] | None:
    """The sidebar's "Your images": (the model with the uploaded images as its test split, its cache key), or
    None. Open by default for a model that names no data set: without images its map has nothing to show."""
    needs = DatasetRef.of(model).name is None
    box = st.sidebar.expander("Your images", expanded=needs, key=f"{BOX_KEY}_{int(needs)}", on_change="rerun")
    up = None
    with box:
        # built while open, or while it holds a file (an uploader left undrawn would drop it): every page
        # carries the sidebar, and its browser draws (and first fetches the code of) each element
        if box.open or st.session_state.get(UPLOAD_KEY) is not None:
            st.caption("Map this model's latent space on your own images: a .zip of a folder of pictures (its "
                       "subfolders become classes), an .npz or .npy array (N, H, W), "
                       "(N, C, H, W) or (N, H, W, C), with labels under \"labels\" in an .npz, or an IDX file. "
                       f"They must be the model's size ({'x'.join(map(str, model.config.image_shape))}, C x H x W).")
            up = st.file_uploader("Images", key=UPLOAD_KEY)
    if up is None:
        return None
    try:
        name = store(up.getvalue(), up.name, tuple(model.config.image_shape))
    except (ValueError, OSError) as e:
        st.sidebar.error(plain(str(e).splitlines()[0] if str(e) else type(e).__name__))
        return None
    return with_images(model, name), f"user-images:{name}:{key}"
