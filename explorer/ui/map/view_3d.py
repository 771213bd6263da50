"""A 3-D view of the codes beside the Latent map: PCA to three axes, WebGL Scatter3d (drag to rotate)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.data import ImageDataset
from explorer.figures import plots
from explorer.latent.projection import pca_3d
from explorer.model.latent_model import LatentModel
from explorer.ui.map import view
from explorer.ui.state import caches
from explorer.ui.state.current_model import Current


@st.cache_data(show_spinner=False, max_entries=8)
def _pca(_model: LatentModel, key: str, dataset: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    return pca_3d(caches.encoding(_model, key, dataset).mean[:n])


MAX_3D = 10_000  # points in the rotating view: Plotly sends each as JSON, and more stop turning smoothly


def render(cur: Current, data: ImageDataset, md: view.MapData, index: int) -> None:
    if cur.model.latent_dim < 3:
        st.caption(f"A 3-D view needs a latent of 3 or more dimensions; this one has {cur.model.latent_dim}, "
                   "so the map on the left is the whole latent space.")
        return
    n = min(md.n, MAX_3D)
    coords, ratio = _pca(cur.model, cur.key, data.name, n)
    first = f"first {n:,} of the map's" if n < md.n else f"same {n:,}"
    st.caption(f"The {first} codes on their three leading principal axes ({ratio.sum():.0%} of the "
               "variance): drag to rotate, scroll to zoom, double-click a label in the legend to show it alone. "
               "The black diamond is the chosen image.")
    labels = data.test_y[:n].numpy() if data.test_y is not None else None
    titles = tuple(f"PC {k + 1} ({r:.0%})" for k, r in enumerate(ratio))
    fig = plots.latent_scatter_3d(coords, labels, data.classes, axis_titles=titles,
                                  selected=coords[index] if index < n else None,
                                  ui_revision=f"{cur.key}:{n}")
    st.plotly_chart(fig, key="map_3d", config={"displaylogo": False})
