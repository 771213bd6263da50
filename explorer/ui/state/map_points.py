"""The map's points when they are not the test split: a model's training split, both splits, or the rows of an
uploaded codes file. Each is a data set named "<test split>@<what>" ("mnist@both", "mnist@codes-<digest>") whose
test_x and test_y are its images and labels in map order, so every tool under the map indexes the right image;
caches.encoding and caches.likelihood_images read such names here. Shared by every session: one copy of a
split's images (read once, under the server's memory budget), one encoding per model (jobs.map_points)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.data.ref import DatasetRef
from explorer.data.splits import SplitImages, load_split_images, point_name, scored_split
from explorer.jobs.map_points import SplitEncodings, check_images_memory
from explorer.model.encoding import Encoding
from explorer.model.latent_model import LatentModel
from explorer.store.codes_file import Codes
from explorer.store.codes_fit import codes_rows, needed_split
from explorer.store.map_cache import split_encoding_name
from explorer.ui.state import session_end
from explorer.ui.widgets.waiting import progress_bar

SEP = "@"
CODES = "codes-"
_ENCODINGS = SplitEncodings(4)
_CODES: OrderedDict[str, Codes] = OrderedDict()  # content digest -> an uploaded file's codes, newest last
_CODES_KEEP = 4
_lock = threading.Lock()


@dataclass
class MapPoints(ImageDataset):
    """A data set of the map's points: where each came from (its split and index there), besides the images."""

    from_train: torch.Tensor | None = None  # (N,) bool
    indices: torch.Tensor | None = None  # (N,) int64: each image's index in its own split


def is_points(name: str) -> bool:
    return SEP in name


def points_name(base: str, what: str) -> str:
    """The name of base's (a test split's name) points: what is a split ("train", "both") or "codes-<digest>"."""
    return f"{base}{SEP}{what}"


def _parts(name: str) -> tuple[str, str]:
    base, what = name.rsplit(SEP, 1)
    return base, what


def describe(data: ImageDataset, i: int) -> str:
    """Point i of a map's data set in words: "test image 12", or "training image 12" for the training split's."""
    if isinstance(data, MapPoints):
        return point_name(bool(data.from_train[i]), int(data.indices[i]))
    return point_name(False, i)


def test_index(data: ImageDataset, i: int) -> int | None:
    """Point i's index among the test images (what the other pages take), or None for a training image."""
    if isinstance(data, MapPoints):
        return None if bool(data.from_train[i]) else int(data.indices[i])
    return i


def checkpoint_of(key: str) -> str | None:
    """The file behind a bundled or saved model's cache key ("bundled:<path>:<mtime>:<device>"), else None."""
    return key[len("bundled:"):].rsplit(":", 2)[0] if key.startswith("bundled:") else None


def _expected(ref: DatasetRef, split: str) -> int | None:
    """How many images split holds, from the checkpoint's record of its data (None when it has none)."""
    sizes = {"test": ref.info.get("test_size"), "train": ref.info.get("train_size")}
    parts = [sizes[s] for s in ("test", "train") if split in (s, "both")]
    if ref.test_from:  # trained on the bundled split's first images: the rest are its test images
        return None
    return sum(parts) if all(isinstance(p, int) for p in parts) else None


@st.cache_resource(show_spinner="Reading the images…", max_entries=2)
def _split_images(base: str, split: str, shape: tuple[int, ...], _ref: DatasetRef) -> SplitImages:
    """One copy of a split's grey images for every session (the two most recent splits)."""
    n = _expected(_ref, split)
    what = f"the {split} split{'s' if split == 'both' else ''} of {base}"
    if n is not None:
        check_images_memory(n, shape, what)  # before reading: a refused split is never held
    grey = load_split_images(_ref, split)
    check_images_memory(len(grey.x), shape, what)
    return grey


def split_points(model: LatentModel, base: ImageDataset, split: str) -> MapPoints:
    """The model's split ("train" or "both"; the test split is base itself) as the map's data set."""
    ref = DatasetRef.of(model)
    grey = _split_images(base.name, split, tuple(model.config.image_shape), ref)
    return _points(points_name(base.name, split), grey.x, grey, base)


def _points(name: str, x: torch.Tensor, rows: SplitImages, base: ImageDataset) -> MapPoints:
    labels = None if (rows.labels < 0).all() else rows.labels
    return MapPoints(name, x[:0], None, x, labels, base.classes, from_train=rows.from_train, indices=rows.indices)


def remember_codes(digest: str, codes: Codes) -> None:
    """An uploaded file's codes, by content: any session with the same file shares them (a few at most)."""
    with _lock:
        _CODES[digest] = codes
        _CODES.move_to_end(digest)
        while len(_CODES) > _CODES_KEEP:
            _CODES.popitem(last=False)


def holds_codes(digest: str) -> bool:
    with _lock:
        return digest in _CODES


def _codes(name: str) -> Codes:
    with _lock:
        codes = _CODES.get(_parts(name)[1][len(CODES):])
    if codes is None:  # forgotten for newer uploads: the page asks for the file again
        raise LookupError("the codes file is no longer held on the server: upload it again")
    return codes


def codes_points(model: LatentModel, base: ImageDataset, digest: str) -> MapPoints:
    """An uploaded codes file's rows (checked with codes_fit first) as the map's data set, in the file's order."""
    return _codes_points(base.name, digest, tuple(model.config.image_shape), DatasetRef.of(model), base)


@st.cache_resource(show_spinner=False, max_entries=2)
def _codes_points(base_name: str, digest: str, shape: tuple[int, ...], _ref: DatasetRef,
                  _base: ImageDataset) -> MapPoints:
    name = points_name(base_name, CODES + digest)
    codes = _codes(name)
    grey = _split_images(base_name, needed_split(codes), shape, _ref)
    rows = codes_rows(codes, grey)
    picked = SplitImages(grey.x[rows], grey.labels[rows], grey.indices[rows], grey.from_train[rows])
    return _points(name, picked.x, picked, _base)


@st.cache_resource(show_spinner="Scoring the images as the likelihood sees them…", max_entries=2)
def _scored(name: str, pixels: str, seed: int, levels: int, _model: LatentModel) -> torch.Tensor:
    base, what = _parts(name)
    ref, shape = DatasetRef.of(_model), tuple(_model.config.image_shape)
    if not what.startswith(CODES):
        return scored_split(ref, _split_images(base, what, shape, ref))
    codes = _codes(name)
    grey = _split_images(base, needed_split(codes), shape, ref)
    return scored_split(ref, grey)[codes_rows(codes, grey)]


def likelihood_images(model: LatentModel, name: str) -> torch.Tensor:
    """The points' images as the model's likelihood sees them: each split's noise drawn over the whole split
    (as `encode` draws it), so a point's ELBO and posterior are of the same image on every run."""
    ref = DatasetRef.of(model)
    return _scored(name, ref.pixels, ref.test_seed, ref.levels, model)


def encoding(model: LatentModel, key: str, name: str, refuse: Callable[[int], None] = lambda n: None) -> Encoding:
    """q(z|x) of every point: a codes file's own numbers, or the split encoded once for every session (read
    from the file `encode --split` and `warm --splits` write when it is there), with a bar and a count.
    refuse(n): stops the page before n images are encoded over the server's memory budget."""
    base, what = _parts(name)
    if what.startswith(CODES):
        codes = _codes(name)
        return Encoding(codes.mean.astype(np.float32, copy=False), codes.std.astype(np.float32, copy=False))
    enc = _ENCODINGS.peek((key, name))
    if enc is not None:
        return enc
    x = likelihood_images(model, name)  # here, in the page's run: the panel beside the map needs them anyway
    refuse(len(x))
    with progress_bar() as wait:
        return _ENCODINGS.get((key, name), model, x, cache_name(model, key, name), wait)


def _forget(key: str) -> None:
    """An upload's split encodings go with it (its key, or a key ending with it: a person's images under it)."""
    _ENCODINGS.drop(lambda k: k[0] == key or k[0].endswith(":" + key))


session_end.on_forget("map points", _forget)


def cache_name(model: LatentModel, key: str, name: str) -> str | None:
    """The file-cache name of a split's encoding (and of maps fitted to it); None for codes or a model with no file."""
    path, what = checkpoint_of(key), _parts(name)[1]
    if path is None or what.startswith(CODES):
        return None
    try:
        return split_encoding_name(path, model, what)
    except OSError:
        return None
