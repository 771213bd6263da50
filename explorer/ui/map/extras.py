"""Latent map page, lower half: generated samples, models side by side, downloads."""
from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from explorer.data import ImageDataset
from explorer.data.ref import DatasetRef
from explorer.data.ref import model_unit
from explorer.data.units import comparison
from explorer.figures import plots
from explorer.figures.images import grid
from explorer.latent.mixture import sample_mixture, sample_prior
from explorer.model.encoding import decode_images
from explorer.model.latent_model import LatentModel
from explorer.store.guarded import UNREADABLE, Unreadable
from explorer.ui.map import legend, view
from explorer.ui.map.still import still_map
from explorer.ui.state import caches, current_model, widget_memory
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import pictures
from explorer.ui.widgets.in_page import cannot_run
from explorer.ui.widgets.plain_text import plain
from explorer.web.export import export_page

BELOW = ["Manifold", "Samples", "Models side by side", "Export"]  # the tabs under the map (pages/map.py)
N_SAMPLES = 64
EAGER_MAX = 10_000  # points up to which the CSV and PNG are made with the page; more (seconds each) when clicked


@st.cache_data(show_spinner=False, max_entries=64)
def _samples_png(_model: LatentModel, key: str, dataset: str, source: str, components: int, seed: int) -> bytes:
    if source == "prior":
        z = sample_prior(_model.latent_dim, N_SAMPLES, seed)
    else:
        z = sample_mixture(caches.mixture(_model, key, dataset, components), N_SAMPLES, seed)
    return pictures.png(grid(decode_images(_model, z), nrow=8), 470)


def samples(cur: Current, data: ImageDataset) -> None:
    st.subheader("Samples: prior vs. a mixture fitted to the codes")
    c0, c1 = st.columns([3, 1])
    k = c0.slider("Gaussian mixture components", 1, 30, 10, key=widget_memory.key("gmm_k"))
    if c1.button("New samples", key="resample"):
        st.session_state["sample_seed"] = st.session_state.get("sample_seed", 0) + 1
    seed = st.session_state.get("sample_seed", 0)
    left, right = st.columns(2)
    left.image(_samples_png(cur.model, cur.key, data.name, "prior", k, seed), width="stretch",
               caption="z ~ p(z) = N(0, I), decoded", output_format="PNG")
    right.image(_samples_png(cur.model, cur.key, data.name, "gmm", k, seed), width="stretch", output_format="PNG",
                caption=f"z ~ a {k}-component Gaussian mixture fitted to the aggregate posterior q(z) "
                        "(draws z ~ q(z|x) of the test images; an AE's codes), decoded")
    if not cur.model.is_variational:
        st.info("An autoencoder was never asked to make its codes look like N(0, I), so prior samples land "
                "where it has no data and decode to noise or blends. A mixture fitted to its codes is the "
                "usual repair (Ghosh et al. 2020).")
    else:
        st.caption("Where the aggregate posterior leaves holes in N(0, I), prior samples decode to blends; "
                   "the mixture samples from where the data actually is.")


def compare(cur: Current, data: ImageDataset, method: str, n: int) -> None:
    """VAE vs. AE vs. DAE: the same test images in the latent spaces of the other models of this data set,
    those trained in this session (listed first: a class trains a VAE, then an AE) and the bundled ones."""
    device = str(next(cur.model.parameters()).device)
    others: dict[str, tuple[str, int, Callable[[], Current]]] = {}  # label -> (kind, latent size, () -> Current)
    for name, m in current_model.session_models().items():
        if not (cur.source == "session" and name == cur.name) and DatasetRef.of(m).split == data.name:
            others[name] = (m.config.kind, m.latent_dim,
                            lambda name=name, m=m: current_model.session_current(name, m, device))
    for b in caches.bundled_checkpoints():
        if ("error" not in b.meta and not (cur.source == "bundled" and b.name == cur.name)
                and DatasetRef.from_metadata(b.meta, b.meta["config"]["likelihood"]).split == data.name):
            label = b.name if b.name not in others else f"{b.name} (bundled)"
            others[label] = (b.meta["config"]["kind"], b.meta["config"]["latent_dim"],
                             lambda b=b: current_model.bundled_current(b, device))
    if not others:
        st.caption(f"Other models of {data.name} would appear here: bundled ones, or ones you train on the "
                   "Train page (e.g. an AE and a DAE next to this VAE).")
        return
    want = [k for k, (kind, dim, _) in others.items() if kind != cur.model.config.kind and dim == cur.model.latent_dim]
    if st.session_state.get("_compare_options") != list(others):  # a model was trained or chosen: fresh default
        st.session_state["_compare_options"] = list(others)
        st.session_state["compare_models"] = want[:2]
    names = st.multiselect("Compare with", list(others), key=widget_memory.key("compare_models"),
                           format_func=lambda s: f"{s} ({others[s][0].upper()})")
    if not names:
        return
    legend.label_legend(data.test_y[:n].numpy() if data.test_y is not None else None, data.classes,
                        "label (every map below)")
    entries = [(cur.name, cur)]
    for name in names:
        try:
            entries.append((name, others[name][2]()))
        except Unreadable as e:  # a file that cannot be opened is one line, and the others still draw
            st.caption(f"{plain(name)} {UNREADABLE}: {plain(e)}")
    cols = st.columns(len(entries))
    for col, (name, c) in zip(cols, entries):
        # Models may differ in latent size: a 2-D one is its own map; a larger one gets this page's method.
        m = "axes" if c.model.latent_dim <= 2 else (method if method != "axes" else "pca")
        md = view.load(c, data, m, n)
        short = name if len(name) <= 34 else name[:33] + "…"  # a column is narrow; the full name is in the picker
        with col:
            st.markdown(f"**{plain(short)}** · {c.model.config.kind.upper()} · {view.method_label(md.method)}")
            still_map(md.coords, data.test_y[:n].numpy() if data.test_y is not None else None, f"compare:{name}")
            st.caption(_headline(c.model))
    units = {model_unit(c.model) for _, c in entries}
    if len(units) > 1 or not next(iter(units)).probability:
        a, *rest = units
        st.caption(comparison(a, rest[0] if rest else a))
    if len({c.model.is_variational for _, c in entries}) > 1:
        st.caption("An autoencoder's reconstruction log p(x|z) bounds no log p(x), so it is not ranked against "
                   "a VAE's ELBO: the maps compare how the codes are laid out, not the numbers.")


def _headline(model) -> str:
    """The model's stored test bound with its unit, for a caption under its map."""
    unit, bound = model_unit(model), (model.metadata.get("metrics") or {}).get("test_elbo")
    name = "test ELBO" if model.is_variational else "test reconstruction"
    if not isinstance(bound, (int, float)):
        return f"{name}: not recorded ({unit.key})"
    return f"{name} {unit.show(bound, math.prod(model.config.image_shape), model.is_variational)}, {unit.key}"


def exports(cur: Current, data: ImageDataset, md: view.MapData, manifold_png: bytes) -> None:
    labels = data.test_y[:md.n].numpy() if data.test_y is not None else None
    c1, c2, c3 = st.columns(3)
    csv = lambda: _csv(md, labels)  # noqa: E731
    png = lambda: plots.scatter_png(md.coords, labels, data.classes,  # noqa: E731
                                    title=f"{cur.name}: {view.method_label(md.method)}")
    click = "ignore" if md.n > EAGER_MAX else "rerun"
    if md.n <= EAGER_MAX:  # a test split's map: made with the page, as always
        csv, png = csv(), png()
    c1.download_button("Latent coordinates (CSV)", csv, file_name=f"{cur.name}_latents.csv", mime="text/csv",
                       key="dl_csv", on_click=click, help="index, label, posterior mean and std of every "
                       "dimension, and the map coordinates")
    c2.download_button("Map (PNG)", png, file_name=f"{cur.name}_map.png", mime="image/png", key="dl_map",
                       on_click=click)
    c3.download_button("Manifold grid (PNG)", manifold_png, file_name=f"{cur.name}_manifold.png",
                       mime="image/png", key="dl_manifold")
    st.caption("The map PNG is drawn on the server and works offline. The PNG button on the map saves "
               "exactly what you see (zoom and marks included), straight from your browser.")
    html_export(cur, data, md)


def html_export(cur: Current, data: ImageDataset, md: view.MapData) -> None:
    """This map and model as one HTML file that works offline (explorer.web.export), made when clicked."""
    why = cannot_run(cur.model)
    if why:
        st.caption(f"Export as HTML needs the model running in a page, and this one cannot: {why}.")
        return
    c1, c2 = st.columns([1, 2])
    half = c2.checkbox("float16 weights", key=widget_memory.key("html_f16"), help="about half the weights' bytes; decodes change "
                       "slightly (BENCHMARKS.md has the error)")

    def build() -> bytes:
        labels = data.test_y[:md.n].numpy() if data.test_y is not None else None
        return export_page(cur.model, cur.name, md.enc, md.proj, md.coords, labels, data.test_x[:md.n],
                           float16=half, classes=data.classes, index_offset=data.test_from).text.encode()

    c1.download_button("Export as HTML", build, file_name=f"{cur.name}.html", mime="text/html", key="dl_html",
                       on_click="ignore", help="one file with the model and this map inside: the map, hover and "
                       "touch decoding, sliders, drawing and interpolation, offline, on a phone too")
    st.caption(f"The HTML file holds the model and the {md.n:,} points of this map (with their images when they "
               "fit) and works offline from disk, on a phone too: nothing in it is fetched. A few MB; fewer points make it smaller.")


def _csv(md: view.MapData, labels: np.ndarray | None) -> bytes:
    # every column at once: one insert per column fragments the frame, and from 49 latent dimensions on
    # (mnist_vae50: 104 columns) pandas wrote a PerformanceWarning to the server's log on every map visit
    D = md.enc.mean.shape[1]
    cols = {"index": np.arange(md.n), **({"label": labels} if labels is not None else {})}
    cols.update({f"mu_{d + 1}": md.enc.mean[:md.n, d] for d in range(D)})
    cols.update({f"sigma_{d + 1}": md.enc.std[:md.n, d] for d in range(D)})
    df = pd.DataFrame({**cols, "map_x": md.coords[:, 0], "map_y": md.coords[:, 1]})
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g")
    return buf.getvalue().encode()
