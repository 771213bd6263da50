"""The latent map as a widget: projection choice, the figure, and the index a click on it chose."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer.data import ImageDataset
from explorer.figures import plots
from explorer.latent.map import DEFAULT_POINTS, MAX_POINTS, max_points
from explorer.latent.projection import PROJECTIONS, Projection, available_projections, umap_available
from explorer.model.encoding import Encoding
from explorer.ui.state import caches
from explorer.ui.state.current_model import Current

POINT_CHOICES = [500, 1000, 2000, 5000, 10000, 20000, 50000]  # and all of them
_POINTS_DRAWN = "_map_points"  # session_state: how many points the in-page map was given


@dataclass
class MapData:
    enc: Encoding
    proj: Projection
    coords: np.ndarray  # (n, 2) map coordinates of the first n test images
    n: int
    method: str


def method_label(key: str) -> str:
    return {"axes": "latent axes (z1, z2)", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get(key, key)


def controls(cur: Current, n_total: int, key: str, inductive_only: bool = False, points: str = "",
             what: str = "Test images") -> tuple[str, int]:
    """Projection and number of points (up to all n_total; a slow projection to its bound). inductive_only: offer
    only maps that can place new points. points: the map's points other than the test split (a map_points name),
    whose count is kept apart; what: those points, in words."""
    methods = [m for m in available_projections(cur.model.latent_dim)
               if not inductive_only or PROJECTIONS[m].inductive]
    c1, c2 = st.columns(2)
    if len(methods) > 1:
        method = c1.selectbox("Projection", methods, format_func=method_label, key=f"{key}_method",
                              help="PCA is linear and instant and can place new points. t-SNE keeps "
                                   "neighbourhoods but is slow and must be refitted for new points.")
    else:
        method = methods[0]
        c1.caption(f"Map: {method_label(method)}" + (" (a 2-D latent needs no projection)"
                                                      if cur.model.latent_dim == 2 else ""))
    if cur.model.latent_dim > 2 and not umap_available() and not inductive_only:
        c1.caption("UMAP appears here when the umap-learn package is installed.")
    top = max_points(method, n_total)
    choices = [c for c in POINT_CHOICES if c < top] + [top]
    if top < n_total:
        c2.caption(f"{method_label(method)} maps at most {MAX_POINTS[method]:,} of the {n_total:,} points here "
                   "(a fit on more would hold the server for many minutes); PCA maps all of them.")
    if len(choices) == 1:  # a small test set (scikit-learn's digits: 360): show them all
        c2.caption(f"All {n_total:,} {what.lower()} are on the map.")
        return method, n_total
    default = min(DEFAULT_POINTS.get(method, n_total), n_total)
    default = max(c for c in choices if c <= default) if any(c <= default for c in choices) else choices[0]
    n = c2.select_slider(f"{what} on the map", choices, value=default,
                         key=f"{key}_n_{method}" + (f"@{points}" if points else ""))
    if method == "tsne" and n > 3000:
        c2.caption(f"t-SNE on {n:,} points takes a minute or more on a CPU (then it is cached).")
    return method, int(n)


def load(cur: Current, data: ImageDataset, method: str, n: int) -> MapData:
    """The map of the first n test images: their posteriors (caches.encoding, of the images the likelihood
    scores) and where the projection puts their means."""
    enc = caches.encoding(cur.model, cur.key, data.name)
    proj, coords = caches.projection(cur.model, cur.key, data.name, method, n)
    return MapData(enc, proj, coords, n, method)


def set_points_drawn(n: int) -> None:
    """The in-page map was given n points: what comes back from it (a click, a lasso) is checked against n."""
    st.session_state[_POINTS_DRAWN] = int(n)


def points_drawn() -> int:
    return int(st.session_state.get(_POINTS_DRAWN, 0))


def figure(cur: Current, data: ImageDataset, md: MapData, *, height: int = 560, title: str | None = None,
           selected: int | None = None):
    """The scatter; a selected point is starred, with its posterior ellipses when the map is linear."""
    labels = data.test_y[:md.n].numpy() if data.test_y is not None else None
    fig = plots.latent_scatter(md.coords, labels, data.classes, axis_titles=md.proj.axis_titles(), height=height,
                               title=title, ui_revision=f"{cur.key}:{md.method}:{md.n}")
    if selected is not None:
        mu, std = md.enc.mean[selected:selected + 1], md.enc.std[selected]
        xy = md.coords[selected] if selected < md.n else (
            md.proj.transform(mu)[0] if md.proj.inductive else None)
        if xy is not None:
            cov = md.proj.project_covariance(np.diag(std.astype(np.float64) ** 2)) if md.proj.linear else None
            plots.add_selection(fig, xy, cov, name=f"image {selected}")
    return fig


def selectable_chart(fig, key: str, modes: tuple[str, ...] = ("points",)) -> None:
    """Draw the map; a click is read back by consume_click on the next run (a box or lasso, when modes offer
    them, by selected_indices). No scroll-zoom: scrolling the page past the map must scroll the page. The
    camera icon saves a PNG in the browser, offline."""
    st.plotly_chart(fig, on_select="rerun", selection_mode=modes, key=key,
                    config={"displaylogo": False,
                            "toImageButtonOptions": {"format": "png", "filename": "latent_map", "scale": 2}})


def consume_click(key: str) -> int | None:
    """Read the chart's selection before the figure is built, so this run already shows the new choice:
    a newly clicked test image's index, or None (the caller puts it where it belongs).

    The chart keeps its selection across reruns; only a changed selection moves the choice, so picking
    an index elsewhere is not overwritten by an old click.
    """
    ids = selected_indices(key)
    seen = f"_{key}_seen"
    if len(ids) == 1 and tuple(ids) != st.session_state.get(seen):  # a click; a box or lasso catches many
        st.session_state[seen] = tuple(ids)
        return ids[-1]
    return None


def selected_indices(key: str) -> list[int]:
    """The test images in the chart's current selection (a click, a box or a lasso)."""
    event = st.session_state.get(key)
    points = ((event or {}).get("selection") or {}).get("points") or []
    return [i for i in (_index_of(p) for p in points) if i is not None]


def _index_of(point: dict) -> int | None:
    cd = point.get("customdata")
    if isinstance(cd, (list, tuple)):
        cd = cd[0] if cd else None
    try:
        return int(cd) if cd is not None else None
    except (TypeError, ValueError):
        return None  # a click on an ellipse or a path, which carry no image
