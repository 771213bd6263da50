"""The model a page shows (Current) and how one is made: from a bundled or saved file (shared, read-only) or
from a model this user trained on the Train page (per session)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import streamlit as st
import torch

from explorer.model.encoding import weights_fingerprint
from explorer.model.latent_model import LatentModel
from explorer.ui.state import caches

SESSION_MODELS = "session_models"  # session_state: name -> LatentModel trained here (the Train page adds them)
_COPIES = "_session_model_copies"  # session_state: per-user copies of those on another device


@dataclass
class Current:
    model: LatentModel
    key: str  # hashable identity for caches: source, file or object, weights version, device
    name: str
    source: str  # bundled | session | upload



def bundled_current(b: caches.Bundled, device: str) -> Current:
    return Current(caches.load_bundled(b.path, b.mtime, device), f"bundled:{b.path}:{b.mtime}:{device}", b.name,
                   "bundled")


def session_models() -> dict[str, LatentModel]:
    """name -> model, for the models this user trained on the Train page."""
    return st.session_state.get(SESSION_MODELS) or {}


def add_session_model(name: str, model: LatentModel) -> None:
    """A model trained here, for the sidebar to offer under "Trained here"."""
    st.session_state.setdefault(SESSION_MODELS, {})[name] = model


def session_model_on(name: str, model: LatentModel, device: str) -> LatentModel:
    """A model trained in this session, on the chosen device: itself, or a per-user copy so the train
    page's model is never moved under it."""
    if next(model.parameters()).device == torch.device(device):
        return model.eval()
    cache = st.session_state.setdefault(_COPIES, {})
    k = (name, id(model), device)
    if k not in cache:
        while len(cache) >= 4:  # a few, for the sidebar's model and those side by side with it
            cache.pop(next(iter(cache)))
        cache[k] = copy.deepcopy(model).to(device).eval()
    return cache[k]


def session_current(name: str, model: LatentModel, device: str) -> Current:
    m = session_model_on(name, model, device)
    return Current(m, f"session:{name}:{id(model)}:{weights_fingerprint(m)}:{device}", name, "session")
