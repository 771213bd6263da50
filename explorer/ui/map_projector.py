"""The projector tools under the Latent map, one tab each; what they want drawn comes back as the map's marks."""
from __future__ import annotations

import streamlit as st

from explorer.data import ImageDataset
from explorer.ui import map_tools, map_vectors, mapview
from explorer.ui.models import Current

TABS = ["Neighbours", "Selection", "Attribute vector", "Analogy"]


def tabs(cur: Current, data: ImageDataset, md: mapview.MapData, index: int,
         star: tuple[float, ...] | None) -> dict:
    """Draw the four panels; return the marks (lines, selection, path) for the map above them. star: the
    chosen image's mark on the map (x, y, ...), or None where it has no place there."""
    marks: dict = {}
    start_xy = (star[0], star[1]) if star else None
    nb, sel, vec, ana = st.tabs(TABS)
    with nb:
        marks.update(map_tools.neighbours_panel(cur, data, md, index, start_xy))
    with sel:
        marks.update(map_tools.selection_panel(cur, data, md))
    with vec:
        marks.update(map_vectors.attribute_panel(cur, data, md, index))
    with ana:
        map_vectors.analogy_panel(cur, data, md, index)
    return marks
