"""Which points the Latent map shows: the model's test split (the default), its training split, both, or the rows
of a codes file written by `python -m explorer encode`, uploaded here. An upload, not a path on the server: the
file is usually made on another machine (a GPU box, a cluster), a browser can send it from anywhere, and a path
box would let any visitor of a shared server read its files."""
from __future__ import annotations

import hashlib

import streamlit as st

from explorer.data import ImageDataset
from explorer.data.download import DataNotFound
from explorer.data.ref import DatasetRef
from explorer.jobs.map_points import check_images_memory
from explorer.store.codes_file import CodesError, read_codes
from explorer.store.codes_fit import check_fits
from explorer.store.file_cache import file_digest
from explorer.train.memory import MB, OverBudget
from explorer.ui.state import map_points
from explorer.ui.state.current_model import Current
from explorer.ui.widgets.plain_text import plain

KEY = "map_points"
CODES_KEY = "map_codes"
_CHECKED = "_map_codes_checked"  # (file digest, model key) of the upload last read and found to fit
UPLOAD_MB = 128  # a codes file: 70,000 MNIST codes of a 50-D latent are 29 MB
CHOICES = {"test": "test split", "train": "training split", "both": "both splits", "codes": "a codes file"}


def offers_more(cur: Current, data: ImageDataset) -> bool:
    """A model of a named data set has a training split (and codes files); a person's own images do not."""
    ref = DatasetRef.of(cur.model)
    return ref.name not in (None, "images") and not data.name.startswith("images:")


def choose(cur: Current, data: ImageDataset) -> ImageDataset:
    """The choice, and the map's data set for it: data itself for the test split (and when the choice cannot be
    had: the reason is shown), else map_points' data set of the chosen points."""
    if not offers_more(cur, data):
        return data
    choice = st.radio("Points on the map", list(CHOICES), format_func=CHOICES.get, key=KEY, horizontal=True,
                      help="The test split is what every page scores. The training split (or both: MNIST's "
                           "70,000) is encoded once per model for everyone, then read from the server's cache. "
                           "A codes file from `python -m explorer encode` brings its own codes.")
    try:
        if choice == "codes":
            return _codes(cur, data)
        if choice != "test":
            return map_points.split_points(cur.model, data, choice)
    except (DataNotFound, FileNotFoundError) as e:
        st.warning(f"The {CHOICES[choice]} of {plain(data.name)} is not on this server ({plain(_first(e))}): set "
                   "EXPLORER_DATA_DIR to the folder holding its files. The map shows the test split.")
    except (OverBudget, CodesError, LookupError, ValueError, OSError) as e:
        st.warning(f"{plain(_first(e))}. The map shows the test split.")
    return data


def _first(e: BaseException) -> str:
    return str(e).splitlines()[0].rstrip(".") if str(e) else type(e).__name__


def _codes(cur: Current, data: ImageDataset) -> ImageDataset:
    """The uploaded codes file's points; the test split (with a line saying why) until there is a good one."""
    up = st.file_uploader("Codes file (codes.npz from `python -m explorer encode`)", type=["npz"], key=CODES_KEY,
                          max_upload_size=UPLOAD_MB,
                          help="Written by `python -m explorer encode CKPT --split both --out codes.npz`, for this "
                               "model: its latent size, data set, pixel rule and checkpoint must match.")
    if up is None:
        st.caption("Upload a codes file; until then the map shows the test split.")
        return data
    raw = up.getvalue()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if st.session_state.get(_CHECKED) != (digest, cur.key) or not map_points.holds_codes(digest):
        st.session_state.pop(_CHECKED, None)
        codes = read_codes(raw, max_bytes=UPLOAD_MB * MB, name=up.name)
        check_fits(codes, cur.model, _model_digest(cur), name=up.name)
        check_images_memory(len(codes.mean), tuple(cur.model.config.image_shape), f"{up.name}'s points")
        map_points.remember_codes(digest, codes)
        st.session_state[_CHECKED] = (digest, cur.key)  # read and checked once, not on every rerun
    points = map_points.codes_points(cur.model, data, digest)
    if _model_digest(cur) is None:
        st.caption("This model was trained in this session and has no file, so the codes' checkpoint cannot be "
                   "checked: their latent size, data set and pixel rule match.")
    return points


def _model_digest(cur: Current) -> str | None:
    """The current model's checkpoint digest (as `encode` records it), or None for a model with no file."""
    if cur.source == "upload":
        return cur.key.split(":")[1]  # "upload:<sha256[:16]>:<device>": the same digest as file_digest's
    path = map_points.checkpoint_of(cur.key)
    return file_digest(path) if path else None
