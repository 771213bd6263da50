"""The Latent map's projector tools: highlight labels, the chosen image's nearest neighbours, and a box or
lasso selection (its size, labels, images, mean code decoded, saved under a name for attribute vectors).
Each panel returns the marks it wants drawn on the map (header numbers for map_select.js)."""
from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.figures.images import grid
from explorer.latent.attributes import mean_code
from explorer.latent.neighbours import METRICS, metrics_for, neighbours
from explorer.model.encoding import decode_images
from explorer.ui.map import view
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import pictures
from explorer.web import received

SELECTION = "map_selection"  # session_state: the map's current selection, sorted test-image indices
SAVED = "saved_selections"  # session_state: {data set name: {selection name: [indices]}}
GRID_MAX = 64  # images shown of a selection


def on_select(widget_key: str) -> None:
    """The map's box or lasso, before the fragment reruns: checked, then the current selection."""
    ids = received.clean_selection(getattr(st.session_state.get(widget_key), "select", None),
                                        view.points_drawn())
    if ids is not None:
        st.session_state[SELECTION] = ids


def take_plotly_selection(chart_key: str, n: int) -> None:
    """A box or lasso on the Plotly map (the server-drawn fallback): a new one becomes the selection. The
    chart keeps it across reruns, so only a changed one counts (a cleared selection stays cleared)."""
    ids = tuple(sorted({i for i in view.selected_indices(chart_key) if 0 <= i < n}))
    seen = f"_{chart_key}_sel_seen"
    if len(ids) > 1 and ids != st.session_state.get(seen):
        st.session_state[seen] = ids
        st.session_state[SELECTION] = list(ids)


def selection_marks(n: int) -> dict:
    """The selection outlined on the map, whichever tool is open: it was drawn on the map, not in a tool."""
    ids = selection(n)
    return {"sel": [int(i) for i in ids]} if ids else {}


def clear_selection() -> None:
    st.session_state[SELECTION] = []


def selection(n: int) -> list[int]:
    ids = st.session_state.get(SELECTION) or []
    return [i for i in ids if 0 <= i < n]


def saved(dataset: str) -> dict[str, list[int]]:
    return st.session_state.setdefault(SAVED, {}).setdefault(dataset, {})


HIGHLIGHT = "map_highlight"


def highlighted() -> list[int]:
    """The labels highlight() keeps bright (the map's fragment reads them; the picker sits above it)."""
    return [int(v) for v in st.session_state.get(HIGHLIGHT) or []]


def highlight(data: ImageDataset) -> list[int]:
    """Labels to keep bright on the map; the rest fade."""
    if data.test_y is None:
        return []
    labels = sorted(int(v) for v in torch.unique(data.test_y))
    names = data.classes or [str(v) for v in labels]
    picked = st.multiselect("Highlight labels (the rest fade)", labels, key=HIGHLIGHT,
                            format_func=lambda v: names[v] if v < len(names) else str(v))
    return [int(v) for v in picked]


def _row(images: torch.Tensor, captions: list[str], width: int = 52) -> None:  # 8 fit in a half-width column
    st.image([pictures.png(x, width) for x in images], caption=captions, width=width, output_format="PNG")


def neighbours_panel(cur: Current, data: ImageDataset, md: view.MapData, index: int | None,
                     start_xy: tuple[float, float] | None) -> dict:
    """Latent-space neighbours beside pixel-space ones; returns the lines to draw from the chosen point."""
    st.caption("The chosen image's nearest test images, by distance between codes (left) and between pixels "
               "(right), nearest first, with the distance under each. On the map, black lines join it to its "
               "latent neighbours and red dashed lines to its pixel neighbours: latent neighbours tend to share "
               "the digit's shape, pixel neighbours its ink.")
    if index is None:
        st.info("Choose a test image (click a dot, or type its index) to see its neighbours.")
        return {}
    c1, c2 = st.columns(2)
    k = c1.slider("Neighbours (k)", 1, 16, 8, key="nb_k")
    latent = [m for m in metrics_for(cur.model.is_variational) if m != "pixel"]
    metric = c2.radio("Latent distance", latent, key="nb_metric", horizontal=True,
                      format_func=lambda m: "Euclidean (means)" if m == "latent" else "symmetric KL (posteriors)")
    flat = data.test_x.reshape(len(data.test_x), -1).numpy()
    found = {m: neighbours(m, index, k, mean=md.enc.mean, std=md.enc.std, images=flat) for m in (metric, "pixel")}
    labels = data.test_y
    marks: dict = {}
    for col, (m, nb) in zip(st.columns(2), found.items()):
        with col:
            what = METRICS[m]
            st.markdown(f"**{what[0].upper() + what[1:]}**")
            caps = [f"{j}" + (f" ({int(labels[j])})" if labels is not None else "") + f" · {d:.3g}"
                    for j, d in zip(nb.ids, nb.distances)]
            _row(data.test_x[nb.ids.tolist()], caps)
        on_map = [int(j) for j in nb.ids if j < md.n]
        if start_xy is not None and on_map:
            key = "lines_pixel" if m == "pixel" else "lines_latent"
            marks[key] = [float(v) for j in on_map for v in (*start_xy, *md.coords[j])]
    if start_xy is None:
        st.caption("The chosen image has no place on this map, so no lines are drawn.")
    return marks


def selection_panel(cur: Current, data: ImageDataset, md: view.MapData) -> dict:
    """What a box or lasso caught; returns the selection to outline on the map."""
    st.caption("Press “box” or “lasso” on the map and drag around some points. Here: how many you caught, "
               "their labels, their images, and what the decoder makes of their mean code. Save a selection "
               "under a name to build an attribute vector from it.")
    ids = selection(md.n)
    if not ids:
        st.info("Nothing selected yet.")
        return {}
    st.markdown(f"**{len(ids):,} images selected**")
    if data.test_y is not None:
        counts = pd.Series(data.test_y[ids].numpy()).value_counts().sort_index()
        st.dataframe(pd.DataFrame([counts.values], columns=[f"label {v}" for v in counts.index], index=["count"]),
                     width="stretch")
    left, right = st.columns([3, 1])
    shown = ids[:GRID_MAX]
    left.image(pictures.png(grid(data.test_x[shown], nrow=16), 640), output_format="PNG",
               caption=f"the first {len(shown)} of them" if len(shown) < len(ids) else "all of them")
    z = torch.from_numpy(mean_code(md.enc.mean, ids)).float()[None]
    right.image(pictures.png(decode_images(cur.model, z)[0], 120), output_format="PNG",
                caption="their mean code, decoded")
    c1, c2, c3 = st.columns([2, 1, 1])
    name = c1.text_input("Name", key="sel_name", placeholder="e.g. thick ones")
    c2.button("Save this selection", key="sel_save", disabled=not name.strip(),
              on_click=lambda: _save(data.name, name.strip(), ids))
    c3.button("Clear the selection", key="sel_clear", on_click=clear_selection)
    if saved(data.name):
        st.caption("Saved: " + ", ".join(f"{k} ({len(v)})" for k, v in saved(data.name).items()))
    return {}


def _save(dataset: str, name: str, ids: list[int]) -> None:
    saved(dataset)[name] = list(ids)
    st.toast(f"Saved {len(ids)} images as “{name}”")


def thumbs(data: ImageDataset, n: int):
    """The map's images for the hover label, when they fit the page's budget; else None."""
    from explorer.web.payload import MAX_THUMB_BYTES

    x = data.test_x[:n]
    return (f"{data.name}:{n}", x.numpy()) if x.numel() <= MAX_THUMB_BYTES else None


