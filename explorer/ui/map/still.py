"""A still latent map (explorer/web/still_map.js): the side-by-side maps under the main one. The page gets the
points' coordinates and labels as numbers and draws them on a canvas, where a WebGL chart per map cost each
browser more CPU than the rest of the map page (issue 20: a class opening the map at once)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.web.payload import pack
from explorer.web.sources import component_js

_COMPONENT = st.components.v2.component("vae_explorer_still_map", js=component_js("still_map"))


def blob(coords: np.ndarray, labels: np.ndarray | None) -> bytes:
    """The component's data: coords (n, 2) and labels (n; none: all 0)."""
    coords = np.asarray(coords, np.float32)
    labels = np.zeros(len(coords), np.float32) if labels is None else np.asarray(labels, np.float32)
    if coords.ndim != 2 or coords.shape[1] != 2 or labels.shape != (len(coords),):
        raise ValueError(f"a still map takes coords (n, 2) and labels (n,), not {coords.shape} and {labels.shape}")
    return pack(arrays={"coords": coords, "labels": labels})


def still_map(coords: np.ndarray, labels: np.ndarray | None, key: str) -> None:
    _COMPONENT(data=blob(coords, labels), key=key)
