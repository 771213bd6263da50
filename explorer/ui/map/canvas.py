"""The latent map as an in-page component: the decoder's weights and the map's points go to the browser in
one blob, and the decoder runs under the pointer there (explorer/web/latent_map.js). A click comes back as a
trigger: the index of the nearest dot, or the z clicked on empty space.

The star and the other marks go in a second, tiny component beside the map (explorer/web/streamlit/map_marks.js),
so the map's element is the same on every click's rerun and Streamlit sends the browser a reference to the copy it
holds instead of the blob (issue 24: a click sends a click)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.latent.holes import Holes
from explorer.latent.projection import Projection
from explorer.model.latent_model import LatentModel
from explorer.ui.state import session_end
from explorer.ui.widgets.in_page import unsupported
from explorer.web.payload import map_marks, map_mode, map_payload
from explorer.web.sources import component_js, source

_COMPONENT = st.components.v2.component("vae_explorer_latent_map",
                                        js=component_js("latent_map"),
                                        css=source("latent_map.css"))
_MARKS = st.components.v2.component("vae_explorer_map_marks", js=component_js("map_marks"))
MARKS_SUFFIX = "_marks"  # the marks component's key: the map's + this (the map page hides its empty element)


def hover_note(proj: Projection, model: LatentModel) -> str:
    """What the pointer decodes on this map, in words."""
    mode = map_mode(proj)
    if mode == 0:
        return "the pointer is z itself"
    if mode == 1:
        return (f"the pointer maps back through the projection, z = mean + p·U (the {model.latent_dim - 2} "
                "directions PCA drops are held at the data's mean)")
    return f"{proj.label} cannot be inverted, so the pointer decodes the nearest encoded point"


@st.cache_data(show_spinner=False, max_entries=4)  # a few MB each: this session's last few choices
def payload(_model: LatentModel, key: str, _proj: Projection, method: str, coords: np.ndarray,
            labels: np.ndarray | None, mu: np.ndarray, index_offset: int, height: int, thumbs_key: str = "",
            _thumbs: np.ndarray | None = None, holes_key: str = "", _holes: Holes | None = None) -> bytes:
    """map_payload without the marks, cached per model and map (key and method stand in for the model and map,
    thumbs_key for the images, holes_key for the prior's holes): a click does not change it."""
    return map_payload(_model, _proj, coords, labels, mu, None, index_offset, height, None, _thumbs, _holes)


session_end.on_forget("map blob", lambda key: payload.clear())  # blobs hold weights: a gone upload's too


def mount(blob: bytes, widget_key: str, on_pick=lambda: None, on_select=lambda: None, marks: dict | None = None):
    """The component itself, for a payload built elsewhere (the Train page's live map). marks: map_marks, sent
    in their own component (none: the blob's own marks stay)."""
    result = _COMPONENT(data=blob, key=widget_key, on_pick_change=on_pick, on_select_change=on_select)
    if marks is not None:
        _MARKS(data={"map": widget_key, "marks": marks}, key=widget_key + MARKS_SUFFIX)
    return result


def render(model: LatentModel, key: str, proj: Projection, method: str, coords: np.ndarray,
           labels: np.ndarray | None, mu: np.ndarray, selected: tuple[float, ...] | None, *,
           index_offset: int = 0, height: int = 0, widget_key: str = "latent_canvas",
           on_pick=lambda: None, marks: dict | None = None, thumbs: tuple[str, np.ndarray] | None = None,
           on_select=lambda: None, holes: tuple[str, Holes] | None = None) -> None:
    """Mount the map. A click calls on_pick before the rerun it causes; read it there with clean_pick on
    st.session_state[widget_key].pick ({"index": i} or {"z": [...]}). A box or lasso calls on_select
    (st.session_state[widget_key].select: {"ids": [...]}). thumbs: (a key naming them, the images). height: the
    canvas's in CSS px, or 0 to fit the window below the map's top (the page fits it, equal scales on both axes).
    holes: (a key naming them, the prior's holes) to shade under the points (a 2-D latent's own axes)."""
    blob = payload(model, key, proj, method, np.asarray(coords, np.float32), labels, np.asarray(mu, np.float32),
                   index_offset, height, *(thumbs or ("", None)), *(holes or ("", None)))
    mount(blob, widget_key, on_pick, on_select, map_marks(selected, marks))


__all__ = ["render", "hover_note", "mount", "unsupported"]
