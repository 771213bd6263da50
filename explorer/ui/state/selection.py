"""What this user has chosen, per session: the model, the test image or the bare z chosen on the map,
whether the map's panel shows the drawing, and the choices one page hands to another. The session_state keys
live here only; pages call these accessors."""
from __future__ import annotations

import streamlit as st

from explorer.ui.state.current_model import Current

CURRENT = "_explorer_current"  # the Current model chosen in the sidebar
INDEX = "selected_index"  # the test image chosen on the map (int or None)
Z = "chosen_z"  # a z clicked on empty map space (list of floats); None while an image is chosen
SHOWS_DRAWING = "_map_shows_drawing"  # the map's chosen-point panel shows the drawing ("Use it") for now
_MAP_MODEL = "_map_model"  # the model the map's choice was made on
_MAP_POINTS = "_map_points_name"  # the map's points other than the test split (map_points' name), or ""
_TO_DECODER_INDEX = "decoder_index"  # "Start the decoder sliders here" on a test image
_TO_DECODER_Z = "decoder_z"  # ... on a z clicked on the map
_TO_INTERPOLATE = {"A": "interp_a", "B": "interp_b"}  # "Interpolate from / to here"


def set_current(cur: Current | None) -> None:
    st.session_state[CURRENT] = cur


def current() -> Current | None:
    return st.session_state.get(CURRENT)


def chosen_index(n: int) -> int | None:
    """The test image chosen on the map, if it is one of the n test images of the current model."""
    return _chosen(INDEX, n)


def _chosen(key: str, n: int) -> int | None:
    i = st.session_state.get(key)
    return i if isinstance(i, int) and 0 <= i < n else None


def set_map_points(name: str) -> bool:
    """The map shows these points (a map_points name; "" for the test split); True when that changed. A point
    chosen among other points is kept apart from the chosen test image the other pages read."""
    changed = st.session_state.get(_MAP_POINTS, "") != name
    st.session_state[_MAP_POINTS] = name
    return changed


def _index_key() -> str:
    points = st.session_state.get(_MAP_POINTS, "")
    return f"{INDEX}@{points}" if points else INDEX


def choose_index(i: int) -> None:
    """A point of the map (a test image, unless the map shows other points) is its choice (and no longer a
    bare z or the drawing)."""
    st.session_state[_index_key()] = int(i)
    st.session_state[Z] = None
    st.session_state[SHOWS_DRAWING] = False


def choose_z(z: list[float]) -> None:
    st.session_state[Z] = [float(v) for v in z]
    st.session_state[SHOWS_DRAWING] = False


def chosen_z(latent_dim: int) -> list[float] | None:
    z = st.session_state.get(Z)
    return z if isinstance(z, list) and len(z) == latent_dim else None


def back_to_image() -> None:
    """Drop a chosen z or the drawing: the map shows its chosen test image again."""
    st.session_state[Z] = None
    st.session_state[SHOWS_DRAWING] = False


def show_drawing() -> None:
    """The map's panel shows the drawing just handed over by "Use it", until the next choice."""
    st.session_state[SHOWS_DRAWING] = True


def shows_drawing() -> bool:
    return bool(st.session_state.get(SHOWS_DRAWING))


def index_on_map(model_key: str, n: int) -> int:
    """The map's chosen point for this model (0 if none) among its n points: a z or a drawing belongs to the
    model it was chosen on, so a new model keeps only the index."""
    if st.session_state.get(_MAP_MODEL) != model_key:
        st.session_state[_MAP_MODEL] = model_key
        choose_index(_chosen(_index_key(), n) or 0)
    sel = _chosen(_index_key(), n)
    if sel is None:
        choose_index(sel := 0)
    return sel


# Hand-offs: one page's button sets a start for another, which takes it once (so its own widgets rule after).
def start_decoder_at_image(i: int) -> None:
    st.session_state[_TO_DECODER_INDEX] = int(i)


def start_decoder_at_z(z: list[float]) -> None:
    st.session_state[_TO_DECODER_Z] = [float(v) for v in z]


def take_decoder_start(latent_dim: int) -> tuple[int | None, list[float] | None]:
    """The test image index and the z handed to the decoder page since its last run (each None if none)."""
    i = st.session_state.pop(_TO_DECODER_INDEX, None)
    z = st.session_state.pop(_TO_DECODER_Z, None)
    return (i if isinstance(i, int) else None), (z if isinstance(z, list) and len(z) == latent_dim else None)


def set_interpolation_end(side: str, i: int) -> None:
    """Test image i is A or B (side) on the Interpolate page."""
    st.session_state[_TO_INTERPOLATE[side]] = int(i)


def take_interpolation_end(side: str, n: int) -> int | None:
    i = st.session_state.pop(_TO_INTERPOLATE[side], None)
    return i if isinstance(i, int) and 0 <= i < n else None
