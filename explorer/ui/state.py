"""Where the app keeps things: read-only caches (checkpoints, test sets, encodings, projections) and
the per-user choice of model in st.session_state. Every number comes from the core."""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer import saves
from explorer.analysis import Encoding, encode, fit_mixture, weights_fingerprint
from explorer.checkpoint import CheckpointError, load_model, read_metadata
from explorer.data import ImageDataset
from explorer.data.ref import DatasetRef, load_test_set
from explorer.model import LatentModel
from explorer.latent_map import fit_map
from explorer.projection import Projection
from explorer.ui.text import plain

TRAINED_ENV = "EXPLORER_TRAINED_DIR"  # point the app at another folder of checkpoints (tests do)
REPO_ROOT = Path(__file__).resolve().parents[2]
CURRENT = "_explorer_current"  # session_state key of the Current model chosen in the sidebar
SELECTED = "selected_index"  # session_state key: the test image chosen on the map (int or None)
SHOWS_DRAWING = "_map_shows_drawing"  # the map's chosen-point panel shows the drawing ("Use it") for now
CHOSEN_Z = "chosen_z"  # a z clicked on empty map space (list of floats); None while an image is chosen
TRAIN_PAGE = "explorer/ui/page_train.py"


# Widgets whose values survive a visit to another page. Streamlit forgets a widget's value when a run does not
# draw it; assigning the value to itself each run keeps it (its docs' "interrupt the widget clean-up").
KEEP = ("train_dataset", "train_data_dir", "train_download_data", "train_seed", "train_device", "train_kind",
        "train_arch", "train_hidden", "train_latent", "train_likelihood", "train_beta", "train_warmup",
        "train_iwae_k", "train_estimator", "train_epochs", "train_batch_size", "train_lr",
        "src_A", "src_B", "idx_A", "idx_B", "interp_steps", "dec_start", "dec_index", "maths_index", "maths_k",
        "maths_src")


_SHADOW = "_kept_"  # prefix of the plain copies of KEEP's values


def keep_widget_values() -> None:
    """Call once per run, before the page draws (streamlit_app.py does).

    A page switch can drop a widget's value before this run starts, so each kept value also lives under a
    plain key (remember()) and is put back from there when the widget's own key is gone."""
    for k in KEEP:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]
        elif _SHADOW + k in st.session_state:
            st.session_state[k] = st.session_state[_SHADOW + k]
    remember()


def remember() -> None:
    """Copy the kept widgets' current values to their plain keys; call after drawing them, in a fragment too
    (a fragment's run changes a value without a full run)."""
    for k in KEEP:
        if k in st.session_state:
            st.session_state[_SHADOW + k] = st.session_state[k]


def clamp_index(key: str, n: int, default: int = 0) -> None:
    """Before a test-image index widget of n images is drawn: its kept value, or default, within 0..n-1 (a
    kept index of 5,000 from an MNIST model would be an error under a 359-image digits model)."""
    value = st.session_state.get(key, default)
    st.session_state[key] = min(max(int(value), 0), max(n - 1, 0))


def trained_dir() -> Path:
    """The bundled models: read-only to the app."""
    env = os.environ.get(TRAINED_ENV)
    return Path(env) if env else REPO_ROOT / "trained"


def saves_dir() -> Path:
    """Where the app saves models (EXPLORER_SAVES_DIR, default saved/ beside trained/)."""
    return saves.saves_dir(REPO_ROOT / "saved")


@dataclass(frozen=True)
class Bundled:
    name: str
    path: str
    mtime: float
    meta: dict  # header metadata without the history, or {"error": reason}


@st.cache_data(show_spinner=False, max_entries=256)
def _card(path: str, mtime: float) -> dict:
    try:
        meta = read_metadata(path)
    except (CheckpointError, OSError) as e:
        return {"error": str(e)}
    return {k: v for k, v in meta.items() if k not in ("history", "optimizer")}


DEFAULT_MODEL_ENV = "EXPLORER_DEFAULT_MODEL"  # a teacher pins the model every new session opens on
SHIPPED_DEFAULT = "mnist_vae2"  # chosen on purpose: a 2-D map needs no projection, and it is a good model


def default_model() -> str:
    return os.environ.get(DEFAULT_MODEL_ENV) or SHIPPED_DEFAULT


def _preference(b: Bundled) -> tuple:
    """The pinned or shipped default first (a model saved later, e.g. "mnist-vae-z2", must not sort before
    it by name); then an MNIST VAE with a 2-D latent: its map needs no projection."""
    c, ds = b.meta.get("config", {}), (b.meta.get("dataset") or {}).get("name")
    return ("error" in b.meta, b.name != default_model(), b.name != SHIPPED_DEFAULT, ds != "mnist",
            c.get("kind") != "vae", c.get("latent_dim") != 2, b.name)


def _listed(d: Path) -> list[Bundled]:
    out = []
    for p in d.glob("*.safetensors") if d.is_dir() else []:
        try:
            mtime = p.stat().st_mtime
        except OSError:  # removed while listing
            continue
        out.append(Bundled(p.stem, str(p), mtime, _card(str(p), mtime)))
    return out


def bundled_checkpoints() -> list[Bundled]:
    return sorted(_listed(trained_dir()), key=_preference)


def saved_checkpoints() -> list[Bundled]:
    """Models saved from the app on this server, newest first."""
    return sorted(_listed(saves_dir()), key=lambda b: (-b.mtime, b.name))


@st.cache_resource(show_spinner="Loading checkpoint…", max_entries=16)
def load_bundled(path: str, mtime: float, device: str) -> LatentModel:
    """A checkpoint in eval mode, shared read-only by every session (mtime: reload a rewritten file)."""
    return load_model(path, device=device)


def session_model_on(name: str, model: LatentModel, device: str) -> LatentModel:
    """A model trained in this session, on the chosen device: itself, or a per-user copy so the train
    page's model is never moved under it."""
    if next(model.parameters()).device == torch.device(device):
        return model.eval()
    cache = st.session_state.setdefault("_session_model_copies", {})
    k = (name, id(model), device)
    if k not in cache:
        while len(cache) >= 4:  # a few, for the sidebar's model and those side by side with it
            cache.pop(next(iter(cache)))
        cache[k] = copy.deepcopy(model).to(device).eval()
    return cache[k]


def session_models() -> dict[str, LatentModel]:
    """name -> model, for the models this user trained on the Train page (which fills it)."""
    return st.session_state.get("session_models") or {}


def session_current(name: str, model: LatentModel, device: str) -> "Current":
    m = session_model_on(name, model, device)
    return Current(m, f"session:{name}:{id(model)}:{weights_fingerprint(m)}:{device}", name, "session")


def bundled_current(b: Bundled, device: str) -> "Current":
    return Current(load_bundled(b.path, b.mtime, device), f"bundled:{b.path}:{b.mtime}:{device}", b.name, "bundled")


@dataclass
class Current:
    model: LatentModel
    key: str  # hashable identity for caches: source, file or object, weights version, device
    name: str
    source: str  # bundled | session | upload

    @property
    def dataset_name(self) -> str | None:
        return DatasetRef.of(self.model).split


def set_current(cur: Current | None) -> None:
    st.session_state[CURRENT] = cur


def current() -> Current | None:
    return st.session_state.get(CURRENT)


def require_model() -> Current:
    """The model chosen in the sidebar, or a message saying how to get one (and the page stops)."""
    cur = current()
    if cur is None:
        st.info("No model is loaded. Choose or upload a checkpoint in the sidebar, or train one on the "
                "Train page.")
        st.page_link(TRAIN_PAGE, label="Train a model", icon=":material/fitness_center:")
        st.stop()
    return cur


@st.cache_resource(show_spinner="Loading the test set…", max_entries=4)
def test_set(name: str) -> ImageDataset:
    return load_test_set(name)


def test_data(cur: Current) -> tuple[ImageDataset | None, str]:
    """The model's test set, or None with the reason in words."""
    name = cur.dataset_name
    if name is None:
        return None, "This checkpoint does not say which data set it was trained on."
    try:
        data = test_set(name)
    except (FileNotFoundError, ValueError, OSError) as e:
        return None, f"The test set of {name!r} is not available here ({e})."
    if tuple(data.image_shape) != tuple(cur.model.config.image_shape):
        return None, (f"The model expects images of shape {tuple(cur.model.config.image_shape)}, but the "
                      f"{name!r} test set has {tuple(data.image_shape)}.")
    if len(data.test_x) == 0:
        return None, f"The {name!r} test set is empty."
    return data, ""


def require_data(cur: Current) -> ImageDataset:
    data, why = test_data(cur)
    if data is None:
        st.warning(f"{plain(why)} This page needs the model's test images; the Decoder sliders page works "
                   "without them.")
        st.stop()
    return data


@st.cache_resource(show_spinner=False, max_entries=4)
def _scored(name: str, pixels: str, seed: int) -> torch.Tensor:
    return DatasetRef(name, pixels, test_seed=seed).scored(test_set(name).test_x)


def likelihood_images(model: LatentModel, dataset: str) -> torch.Tensor:
    """Test images as the model's likelihood sees them (its DatasetRef's pixel rule and fixed noise)."""
    ref = DatasetRef.of(model)
    return _scored(dataset, ref.pixels, ref.test_seed)


@st.cache_data(show_spinner="Encoding the test set…", max_entries=16)
def encoding(_model: LatentModel, key: str, dataset: str) -> Encoding:
    """Posterior means and stds of the whole test set, once per model."""
    return encode(_model, test_set(dataset).test_x)


@st.cache_resource(show_spinner="Fitting the projection…", max_entries=32)
def projection(_model: LatentModel, key: str, dataset: str, method: str, n: int) -> tuple[Projection, np.ndarray]:
    """A fitted 2-D projection of the first n encoded means and their map coordinates (read-only)."""
    fitted = fit_map(encoding(_model, key, dataset).mean[:n], method)  # the live training map's step too
    return fitted.proj, fitted.coords


@st.cache_resource(show_spinner="Fitting a Gaussian mixture to the encodings…", max_entries=16)
def mixture(_model: LatentModel, key: str, dataset: str, n_components: int):
    return fit_mixture(encoding(_model, key, dataset).mean, n_components)


def selected_index(n: int) -> int | None:
    i = st.session_state.get(SELECTED)
    return i if isinstance(i, int) and 0 <= i < n else None


def choose_index(i: int) -> None:
    """A test image is the map's choice (and no longer a bare z)."""
    st.session_state[SELECTED] = int(i)
    st.session_state[CHOSEN_Z] = None
    st.session_state[SHOWS_DRAWING] = False


def choose_z(z: list[float]) -> None:
    st.session_state[CHOSEN_Z] = [float(v) for v in z]
    st.session_state[SHOWS_DRAWING] = False


def chosen_z(latent_dim: int) -> list[float] | None:
    z = st.session_state.get(CHOSEN_Z)
    return z if isinstance(z, list) and len(z) == latent_dim else None
