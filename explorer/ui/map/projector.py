"""The projector tools under the Latent map, one at a time; what the open tool wants drawn comes back as the
map's marks. A segmented control, not tabs: Python knows which tool is open, so the map draws only its marks."""
from __future__ import annotations

import streamlit as st

from explorer.data import ImageDataset
from explorer.ui.map import tools as map_tools, vectors, view
from explorer.ui.state.current_model import Current

TOOLS = ["Neighbours", "Selection", "Attribute vector", "Analogy"]
KEY = "map_tool"


def tools(cur: Current, data: ImageDataset, md: view.MapData, index: int | None,
          star: tuple[float, ...] | None) -> dict:
    """The tool picker and the open tool's panel; return the marks for the map above them (the selection's
    outline, and the open tool's lines or path). index: the chosen test image, or None when the choice is
    a z clicked on empty space or a drawing; star: its mark on the map (x, y, ...), or None."""
    marks = map_tools.selection_marks(md.n)
    tool = st.segmented_control("Tool", TOOLS, key=KEY, help="Each tool draws its own marks on the map, and "
                                "only while it is open.")
    if tool is None:
        st.caption("Choose a tool: the chosen image's nearest neighbours, a box or lasso selection, an "
                   "attribute vector, an analogy.")
    elif tool == "Selection":
        map_tools.selection_panel(cur, data, md)
    elif tool == "Analogy":
        vectors.analogy_panel(cur, data, md, index if index is not None else 0)
    elif index is None:
        st.info(f"The choice is a clicked z or your drawing, not a test image: click a dot (or type its "
                f"index) for the {tool.lower()}.")
    elif tool == "Neighbours":
        marks.update(map_tools.neighbours_panel(cur, data, md, index, (star[0], star[1]) if star else None))
    else:
        marks.update(vectors.attribute_panel(cur, data, md, index))
    return marks
