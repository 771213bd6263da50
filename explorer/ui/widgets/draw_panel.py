"""Draw your own: a pen canvas in the page whose drawing the model encodes there as the pen moves
(explorer/web/draw.js). "Use it" sends the prepared image back once; it is kept in st.session_state
(DRAWN_IMAGE, DRAWN_CAPTION) for the Interpolate and maths pages to take.

The page prepares the drawing exactly as the server prepares an uploaded PNG of it (preprocess.js, held
against Pillow by tests/test_draw.py), so what comes back equals image_from_bytes + match_background."""
from __future__ import annotations

from typing import Any

import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.model.latent_model import LatentModel
from explorer.ui.state import session_end
from explorer.ui.state.current_model import Current
from explorer.ui.widgets.in_page import unsupported
from explorer.ui.widgets.plain_text import plain
from explorer.web.panels import draw_payload
from explorer.web.received import clean_image
from explorer.web.sources import component_js, source

DRAWN_IMAGE, DRAWN_CAPTION = "drawn_image", "drawn_caption"
_NONCE = "_drawn_nonce"  # the last "Use it" handled: a state value stays set on every later rerun
_COMPONENT = st.components.v2.component(
    "vae_explorer_draw", js=component_js("draw"),
    css=source("draw.css"))


@st.cache_data(show_spinner=False, max_entries=8)
def payload(_model: LatentModel, key: str, dataset: str | None, _test_x: torch.Tensor | None) -> bytes:
    """draw_payload, cached per model (key) and data set."""
    return draw_payload(_model, _test_x)


session_end.on_forget("drawing blob", lambda key: payload.clear())  # it holds the encoder's weights


def render(cur: Current, data: ImageDataset | None, key: str = "draw") -> torch.Tensor | None:
    """Mount the drawing panel for the current model. Returns the image (C, H, W) float32 in [0, 1] on the
    run in which "Use it" was pressed (it is then also in st.session_state[DRAWN_IMAGE]), else None."""
    model = cur.model
    why = unsupported(model)
    c = model.config.image_shape[0]
    if why is None and c not in (1, 3):
        why = f"its images have {c} channels"
    if why:
        st.caption(f"Drawing your own needs the model running in the page, and {plain(cur.name)} cannot: {why}.")
        return None
    blob = payload(model, cur.key, data.name if data is not None else None,
                   data.test_x if data is not None else None)
    result = _COMPONENT(data=blob, key=key, on_image_change=lambda: None)
    return receive(getattr(result, "image", None), tuple(model.config.image_shape))


def receive(value: Any, shape: tuple[int, int, int]) -> torch.Tensor | None:
    """A new "Use it" from the page, checked, stored in session_state and returned; None when there is
    none (or it was handled on an earlier run, or is unusable: then a message says so)."""
    if not isinstance(value, dict) or value.get("nonce") == st.session_state.get(_NONCE):
        return None
    st.session_state[_NONCE] = value.get("nonce")
    x = clean_image(value, shape)
    if isinstance(x, str):
        st.warning(f"The drawing that came back from the page cannot be used ({x}); draw it again.")
        return None
    st.session_state[DRAWN_IMAGE] = x
    st.session_state[DRAWN_CAPTION] = "your drawing" + (" (inverted)" if value.get("inverted") is True else "")
    return x


def current(image_shape: tuple[int, ...]) -> tuple[torch.Tensor, str] | None:
    """The drawing kept from "Use it" and its caption, if it fits image_shape (C, H, W); else None."""
    x = st.session_state.get(DRAWN_IMAGE)
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != tuple(image_shape):
        return None
    return x, str(st.session_state.get(DRAWN_CAPTION) or "your drawing")


__all__ = ["DRAWN_CAPTION", "DRAWN_IMAGE", "current", "receive", "render"]
