"""Presenter mode, for a projector: larger text, images at twice their size, the sidebar out of the way and
Streamlit's toolbar hidden. On with the sidebar's toggle or the URL (`?present=1`, e.g. /map?present=1)."""
from __future__ import annotations

import streamlit as st

KEY = "present"  # the sidebar toggle's key, and the URL's query parameter
_ON = ("1", "true", "on", "yes")
SCALE = 2  # images, traversal grids and GIFs in presenter mode, against their usual size

# Larger base text; no toolbar, Deploy button or running-man decoration to distract a class. --vx-scale
# reaches into the in-page components (custom properties inherit through their shadow roots).
_CSS = """<style>
html { font-size: 21px; }
[data-testid="stToolbar"], [data-testid="stAppDeployButton"], [data-testid="stDecoration"],
[data-testid="stMainMenu"], [data-testid="stStatusWidget"] { display: none !important; }
.stMainBlockContainer { max-width: 100%; padding-top: 2rem; }
:root { --vx-scale: 2; }
</style>"""


def from_url() -> bool:
    return str(st.query_params.get(KEY, "")).lower() in _ON


def presenting() -> bool:
    if KEY not in st.session_state:
        return from_url()
    return bool(st.session_state[KEY])


def px(n: int) -> int:
    """A picture's size in pixels in the current mode."""
    return n * SCALE if presenting() else n


def _toggled() -> None:
    if st.session_state.get(KEY):
        st.query_params[KEY] = "1"  # a reload, or the link shared with a colleague, keeps it on
    elif KEY in st.query_params:
        del st.query_params[KEY]


def toggle() -> None:
    """The sidebar's switch (its first value from the URL)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = from_url()
    st.sidebar.toggle("Presenter mode", key=KEY, on_change=_toggled,
                      help="For a projector: larger text and pictures, no toolbar. The link ?present=1 opens "
                           "the app this way.")


def apply() -> None:
    if presenting():
        st.html(_CSS)
