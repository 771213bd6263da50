"""Latent map: the encoded test set, the decoded manifold, one chosen image in detail."""
from __future__ import annotations

import streamlit as st

from explorer.analysis import decode_images, manifold_latents
from explorer.images import grid
from explorer.model import LatentModel
from explorer.ui import map_extras, mapview, point_panel, show, state

MAP_KEY = "latent_map"


@st.cache_data(show_spinner="Decoding the manifold…", max_entries=64)
def manifold_png(_model: LatentModel, key: str, dataset: str, n: int) -> tuple[bytes, str]:
    """The n x n decoded grid as a PNG, and what its axes are."""
    enc = state.encoding(_model, key, dataset)
    z, caption = manifold_latents(n, _model.latent_dim, enc.mean, variational=_model.is_variational)
    return show.png(grid(decode_images(_model, z), nrow=n), 560), caption


cur = state.require_model()
data = state.require_data(cur)
st.title("Latent map")
which = f"{len(data.test_x):,} {data.name} test images"
if data.test_from:  # trained on the first test images (MNIST without its training files): only the rest
    which = (f"{len(data.test_x):,} {data.name.split('[')[0]} test images it did not train on (from image "
             f"{data.test_from:,} of the standard test split; the map's indices count from there)")
st.caption(f"**{cur.name}**: each dot is one of the {which}, placed at the mean of its posterior q(z|x) and "
           "coloured by its label. Click a dot to inspect it.")

method, n = mapview.controls(cur, len(data.test_x), "map")
md = mapview.load(cur, data, method, n)
chart_key = f"{MAP_KEY}:{cur.key}:{method}:{n}"  # a new map starts with no stale selection
mapview.consume_click(chart_key)
sel = state.selected_index(len(data.test_x))
if sel is None:
    st.session_state[state.SELECTED] = sel = 0

left, right = st.columns([3, 2])
with left:
    mapview.selectable_chart(mapview.figure(cur, data, md, selected=sel), chart_key)
    if not md.proj.inductive:
        st.caption("t-SNE places only the points it was fitted on; pick by index beyond them.")
with right:
    g = st.slider("Manifold grid size", 5, 25, 15, key="manifold_n")
    png, caption = manifold_png(cur.model, cur.key, data.name, g)
    st.image(png, caption=f"Decoded manifold: {caption}", width="stretch", output_format="PNG")

st.subheader("Chosen image")
if st.session_state.get("map_index") != sel:
    st.session_state["map_index"] = sel  # a click on the map moves the index box too
st.number_input("Test image index (or click a dot on the map)", 0, len(data.test_x) - 1, key="map_index",
                on_change=lambda: st.session_state.update({state.SELECTED: int(st.session_state["map_index"])}))
point_panel.render(cur, data, sel, md.enc)

map_extras.samples(cur, data)
map_extras.compare(cur, data, method, n)
map_extras.exports(cur, data, md, png)
