"""The app's shared, read-only caches: the checkpoints it lists and loads, the test sets, the images the
likelihood scores, and what is derived from them (encodings, projections, mixtures). Nothing here is per user;
every number comes from the core. Encodings and projections are computed once for all sessions (however many
ask at once), with a progress bar for each who waits, and kept in the file cache for a bundled or saved
checkpoint (explorer.store.map_cache), where `python -m explorer warm` can put them before class."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.data.pixels import scored_pixels
from explorer.data.ref import DatasetRef, load_test_set
from explorer.jobs.admission import max_trainings_from_env
from explorer.jobs.shared_work import SharedWork
from explorer.latent.map import check_points
from explorer.latent.mixture import fit_mixture
from explorer.latent.projection import Projection
from explorer.model.encoding import Encoding
from explorer.model.latent_model import LatentModel
from explorer.store import guarded, saves
from explorer.store.map_cache import cached_encoding, cached_projection, encoding_name
from explorer.store.request_memory import RequestEstimate, check_request, encoding_estimate, projection_estimate
from explorer.store.vaex_file import SUFFIX as VAEX
from explorer.train.memory import OverBudget, memory_budget_mb
from explorer.ui.state import map_points, session_end, user_images
from explorer.ui.widgets.plain_text import plain
from explorer.ui.widgets.waiting import progress_bar

TRAINED_ENV = "EXPLORER_TRAINED_DIR"  # point the app at another folder of checkpoints (tests do)
DEFAULT_MODEL_ENV = "EXPLORER_DEFAULT_MODEL"  # a teacher pins the model every new session opens on
SHIPPED_DEFAULT = "mnist_vae2"  # chosen on purpose: a 2-D map needs no projection, and it is a good model
REPO_ROOT = Path(__file__).resolve().parents[3]  # explorer/ui/state/caches.py -> the repository


def trained_dir() -> Path:
    """The bundled models: read-only to the app."""
    env = os.environ.get(TRAINED_ENV)
    return Path(env) if env else REPO_ROOT / "trained"


def saves_dir() -> Path:
    """Where the app saves models (EXPLORER_SAVES_DIR, default saved/ beside trained/)."""
    return saves.saves_dir()


def default_model() -> str:
    return os.environ.get(DEFAULT_MODEL_ENV) or SHIPPED_DEFAULT


@dataclass(frozen=True)
class Bundled:
    name: str
    path: str
    mtime: float
    meta: dict  # header metadata without the history, or {"error": reason}


@st.cache_data(show_spinner=False, max_entries=256)
def _card(path: str, mtime: float) -> dict:
    return guarded.card(path)


def _preference(b: Bundled) -> tuple:
    """The pinned or shipped default first (a model saved later, e.g. "mnist-vae-z2", must not sort before
    it by name); then an MNIST VAE with a 2-D latent: its map needs no projection."""
    c, ds = b.meta.get("config", {}), (b.meta.get("dataset") or {}).get("name")
    return ("error" in b.meta, b.name != default_model(), b.name != SHIPPED_DEFAULT, ds != "mnist",
            c.get("kind") != "vae", c.get("latent_dim") != 2, b.name)


def _listed(d: Path) -> list[Bundled]:
    """Checkpoints trained here (.safetensors) and models imported from elsewhere (.vaex), by file stem; a
    .vaex whose stem a .safetensors also has keeps its suffix, so neither hides the other."""
    files = sorted(p for suffix in (".safetensors", VAEX) for p in (d.glob("*" + suffix) if d.is_dir() else []))
    stems = {p.stem for p in files if p.suffix != VAEX}
    out = []
    for p in files:
        try:
            mtime = p.stat().st_mtime
        except OSError:  # removed while listing
            continue
        name = p.name if p.suffix == VAEX and p.stem in stems else p.stem
        out.append(Bundled(name, str(p), mtime, _card(str(p), mtime)))
    return out


def bundled_checkpoints() -> list[Bundled]:
    return sorted(_listed(trained_dir()), key=_preference)


def saved_checkpoints() -> list[Bundled]:
    """Models saved from the app on this server, newest first."""
    return sorted(_listed(saves_dir()), key=lambda b: (-b.mtime, b.name))


@st.cache_resource(show_spinner="Loading checkpoint…", max_entries=16)
def _opened(path: str, mtime: float, device: str) -> LatentModel | str:
    return guarded.open_model(path, device)  # a refusal is kept too: a bad file is not read at every rerun


def load_bundled(path: str, mtime: float, device: str) -> LatentModel:
    """A checkpoint in eval mode, shared read-only by every session (mtime: reload a rewritten file); a file
    that cannot be opened raises guarded.Unreadable with the reason in one line."""
    got = _opened(path, mtime, device)
    if isinstance(got, str):
        raise guarded.Unreadable(got)
    return got


@st.cache_resource(show_spinner="Loading the test set…", max_entries=4)
def test_set(name: str) -> ImageDataset:
    if user_images.is_user_images(name):  # a person's upload, kept under the cache folder
        return user_images.load(name)
    return load_test_set(name)


def test_data(model: LatentModel) -> tuple[ImageDataset | None, str]:
    """The model's test set, or None with the reason in words."""
    name = DatasetRef.of(model).split
    if name is None:
        return None, ("This checkpoint does not say which data set it was trained on, so there are no test images "
                      "to show: give your own under \"Your images\" in the sidebar (or name a data set when "
                      "importing: import-onnx --dataset mnist, or dataset='mnist' in explorer.from_onnx).")
    try:
        data = test_set(name)
    except (FileNotFoundError, ValueError, OSError) as e:
        return None, f"The test set of {name!r} is not available here ({e})."
    if tuple(data.image_shape) != tuple(model.config.image_shape):
        return None, (f"The model expects images of shape {tuple(model.config.image_shape)}, but the "
                      f"{name!r} test set has {tuple(data.image_shape)}.")
    if len(data.test_x) == 0:
        return None, f"The {name!r} test set is empty."
    return data, ""


@st.cache_resource(show_spinner=False, max_entries=4)
def _scored(split: str, pixels: str, seed: int, levels: int) -> torch.Tensor:
    return scored_pixels(test_set(split).test_x, pixels, seed, levels)  # as DatasetRef.scored, cached per split


def likelihood_images(model: LatentModel, dataset: str) -> torch.Tensor:
    """Test images as the model's likelihood sees them (its DatasetRef's pixel rule and fixed noise). Every
    posterior and every number of a test image is of these; pictures for people may stay grey. The map's other
    points (a training split, a codes file's rows) come from map_points."""
    if map_points.is_points(dataset):
        return map_points.likelihood_images(model, dataset)
    ref = DatasetRef.of(model)
    return _scored(dataset, ref.pixels, ref.test_seed, ref.levels)


_ENCODINGS = SharedWork(16, "encoding")
_PROJECTIONS = SharedWork(32, "projection")


def _forget(key: str) -> None:
    """Drop what was derived from the model under key (and from it with a person's images: their keys end
    with it), once no session uses it."""
    def about(k: tuple) -> bool:
        return k[0] == key or k[0].endswith(":" + key)

    _ENCODINGS.drop(about)
    _PROJECTIONS.drop(about)


session_end.on_forget("caches", _forget)


def file_cache_name(_model: LatentModel, key: str) -> str | None:
    """The file-cache name of a bundled or saved checkpoint's encoding; None for a model without a file."""
    path = map_points.checkpoint_of(key)
    if path is None:
        return None
    try:
        return encoding_name(path, _model)
    except OSError:
        return None


def over_budget(estimate: RequestEstimate) -> str | None:
    """Why this server refuses a request (its estimate over the memory budget of a training), or None."""
    try:
        check_request(estimate, memory_budget_mb(max_trainings_from_env()))
    except OverBudget as e:
        return str(e)
    return None


def _refuse_over_budget(estimate: RequestEstimate) -> None:
    """Stop the page (or its fragment) with one message, before a request that would not fit is computed."""
    why = over_budget(estimate)
    if why:
        st.error(f"This server cannot do that: {plain(why)}.")
        st.stop()


def encoding(_model: LatentModel, key: str, dataset: str) -> Encoding:
    """Posterior means and stds of the whole test set, once per model: q(z|x) of the images its ELBO and
    log p(x) are computed on, so the map, its chosen-point panel and the other pages share one posterior.
    One object for every session: never write into its arrays."""
    if map_points.is_points(dataset):
        return map_points.encoding(_model, key, dataset, lambda n: _refuse_over_budget(encoding_estimate(_model, n)))
    ready, enc = _ENCODINGS.peek((key, dataset))
    if ready:
        return enc
    x, name = likelihood_images(_model, dataset), file_cache_name(_model, key)
    _refuse_over_budget(encoding_estimate(_model, len(x)))
    with progress_bar() as wait:
        return _ENCODINGS.get((key, dataset), lambda p: cached_encoding(_model, x, name, p), wait)


def projection(_model: LatentModel, key: str, dataset: str, method: str, n: int) -> tuple[Projection, np.ndarray]:
    """A fitted 2-D projection of the first n encoded means and their map coordinates (read-only)."""
    ready, fitted = _PROJECTIONS.peek((key, dataset, method, n))
    if ready:
        return fitted
    check_points(method, n)  # the page offers no more; a shared server never fits a slow map to 70,000
    mean = encoding(_model, key, dataset).mean[:n]
    points = map_points.is_points(dataset)
    name = map_points.cache_name(_model, key, dataset) if points else file_cache_name(_model, key)
    _refuse_over_budget(projection_estimate(method, *mean.shape))
    with progress_bar() as wait:
        return _PROJECTIONS.get((key, dataset, method, n), lambda p: cached_projection(mean, method, name, p), wait)


@st.cache_resource(show_spinner="Fitting a Gaussian mixture to the encodings…", max_entries=16)
def mixture(_model: LatentModel, key: str, dataset: str, n_components: int):
    enc = encoding(_model, key, dataset)
    return fit_mixture(enc.mean, n_components, std=enc.std)  # draws from each q(z|x): the aggregate posterior
