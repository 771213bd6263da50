"""Decoder sliders: move z by hand and watch the decoder's image follow; a traversal grid beneath."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st
import torch

from explorer.evaluation import mean_kl_per_dim
from explorer.figures import plots
from explorer.figures.images import to_uint8
from explorer.latent.mixture import sample_prior
from explorer.latent.sliders import (SliderBasis, apply_sliders, slider_basis, slider_coordinates,
                                     slider_ranges, traverse)
from explorer.model.encoding import decode_images
from explorer.model.latent_model import LatentModel
from explorer.ui.state import caches, posteriors, selection, widget_memory
from explorer.ui.state.once_per_message import once_per_message
from explorer.ui.widgets import guards, pictures, presenter_mode
from explorer.ui.widgets.in_page import unsupported
from explorer.ui.widgets.plain_text import plain
from explorer.web import received
from explorer.web.panels import slider_payload
from explorer.web.sources import component_js, source

MAX_SLIDERS = 16
SWEEP = torch.linspace(-3, 3, 9)  # traversal values, in prior standard deviations for a VAE
STARTS = {"image": "a test image's encoding", "origin": "the origin z = 0", "prior": "a prior sample z ~ N(0, I)",
          "map": "the point clicked on the map"}
_SLIDERS = st.components.v2.component("vae_explorer_decoder_sliders", js=component_js("decoder_sliders"),
                                      css=source("decoder_sliders.css"))


@st.cache_data(show_spinner=False, max_entries=32)
def basis_and_ranges(_model: LatentModel, key: str, dataset: str | None, mode: str
                     ) -> tuple[SliderBasis, np.ndarray, np.ndarray]:
    enc = caches.encoding(_model, key, dataset) if dataset else None
    basis = slider_basis(_model.latent_dim, enc, MAX_SLIDERS, mode)
    lo, hi = slider_ranges(basis.U, enc, _model.is_variational)
    return basis, lo, hi


@st.fragment
def page_panel(model: LatentModel, z0: torch.Tensor, basis: SliderBasis, lo: np.ndarray, hi: np.ndarray) -> None:
    """Sliders and image in the page (decoded there as a slider moves); the traversal follows when it stops."""
    c = np.asarray(st.session_state["dec_c"], dtype=np.float64)
    blob = slider_payload(model, z0, basis, lo, hi, c, st.session_state["_dec_version"])
    _SLIDERS(data=blob, key="dec_sliders", on_c_change=_ON_MOVED, height="content")
    st.caption("The image is decoded in this page as the slider moves (no server round trip); the traversal "
               "below follows when you let go.")
    traversal(model, apply_sliders(z0, basis.U, c), basis)


def slider_moved() -> None:
    """The page's slider values at the end of a gesture, kept when they pass clean_values."""
    sent = getattr(st.session_state.get("dec_sliders"), "c", None)
    c = received.clean_values(sent, len(st.session_state.get("dec_c") or []))
    if c is not None:
        st.session_state["dec_c"] = c


_ON_MOVED = once_per_message("slider_moved", slider_moved)  # a message of many moves is read once


@st.fragment
def decoder_panel(model: LatentModel, z0: torch.Tensor, basis: SliderBasis, lo: np.ndarray, hi: np.ndarray) -> None:
    """Only this panel reruns when a slider moves: read the sliders, decode one z, show it."""
    t0 = time.perf_counter()  # the panel's own server time, sliders included
    K = basis.U.shape[1]
    sliders, view = st.columns([3, 2])
    with sliders:
        cols = st.columns(2 if K > 4 else 1)
        c = np.array([cols[k % len(cols)].slider(basis.labels[k], float(lo[k]), float(hi[k]), step=0.05,
                                                 key=f"dec_s{k}") for k in range(K)])
    t1 = time.perf_counter()
    z = apply_sliders(z0, basis.U, c)
    png = pictures.png(decode_images(model, z[None])[0], 280)
    t2 = time.perf_counter()
    with view:
        st.image(png, caption="mean of p(x | z)", width=presenter_mode.px(280), output_format="PNG")
        st.caption(f"shown {(t2 - t0) * 1000:.1f} ms after the change (decoded in {(t2 - t1) * 1000:.1f} ms) · "
                   f"‖z‖ = {z.norm():.2f}")
    traversal(model, z, basis)


def traversal(model: LatentModel, z: torch.Tensor, basis: SliderBasis) -> None:
    K = basis.U.shape[1]
    with st.expander("Traversal: each direction swept from −3 to +3, the rest of z held here", expanded=True):
        imgs = decode_images(model, traverse(z, basis.U, SWEEP).reshape(-1, z.shape[-1]))
        rows = np.stack([to_uint8(x) for x in imgs]).reshape(K, len(SWEEP), *to_uint8(imgs[0]).shape)
        st.image(plots.labelled_rows_png(rows, basis.labels, [f"{v:+g}" for v in SWEEP.tolist()],
                                         scale=pictures.factor(rows.shape[3], 56)), output_format="PNG")
        if not model.is_variational:
            st.caption("An autoencoder's codes are not on the prior's scale, so ±3 may be a small or a large "
                       "step for it; the sliders' ranges follow its encoded test set instead.")


cur = guards.require_model()
model = cur.model
data, why = caches.test_data(model)
dataset = data.name if data is not None else None
st.title("Decoder sliders")
st.caption(f"**{plain(cur.name)}**: the decoder turns any point z of the {model.latent_dim}-dimensional latent space "
           "into an image. Move a slider: the model runs in this page, so the image follows the hand.")
if data is None:
    st.caption(f"{plain(why)} Starting from a test image is off; the origin and prior samples work.")

mode = "kl"
if model.latent_dim > MAX_SLIDERS:
    mode = st.radio(f"{model.latent_dim} dimensions are too many sliders; show", ["kl", "pca"], horizontal=True,
                    key="dec_basis", format_func={"kl": f"the {MAX_SLIDERS} dimensions with the most KL",
                                                  "pca": f"the top {MAX_SLIDERS} principal directions"}.get)
basis, lo, hi = basis_and_ranges(model, cur.key, dataset, mode)
if basis.note:
    st.caption(f"Sliders: {basis.note}; the other directions stay where the start point puts them.")

map_z = st.session_state.get("_dec_map_z")
if not (isinstance(map_z, list) and len(map_z) == model.latent_dim):
    map_z = None  # kept from a model with another latent size
handoff, z_handoff = selection.take_decoder_start(model.latent_dim)  # "Start the decoder sliders here" on the map
if z_handoff is not None:
    map_z = st.session_state["_dec_map_z"] = z_handoff
    st.session_state["dec_start"] = "map"
starts = [s for s in STARTS if (s != "image" or data is not None) and (s != "map" or map_z is not None)]
if handoff is not None and data is not None:
    st.session_state["dec_start"], st.session_state["dec_index"] = "image", handoff
if st.session_state.get("dec_start") not in starts:
    st.session_state["dec_start"] = starts[0]
a, b = st.columns([2, 1])
start = a.radio("Start from", starts, format_func=STARTS.get, horizontal=True, key=widget_memory.key("dec_start"))
index, seed = None, st.session_state.get("dec_seed", 0)
if start == "image":
    widget_memory.clamp_index("dec_index", len(data.test_x), selection.chosen_index(len(data.test_x)) or 0)
    index = int(b.number_input("Test image index", 0, len(data.test_x) - 1, key=widget_memory.key("dec_index")))
elif start == "prior" and b.button("Draw another", key="dec_redraw"):
    st.session_state["dec_seed"] = seed = seed + 1

if start == "image":
    z0 = torch.from_numpy(posteriors.test_posterior(model, cur.key, dataset, index)[0]).float()
elif start == "prior":
    z0 = sample_prior(model.latent_dim, 1, seed)[0]
elif start == "map":
    z0 = torch.tensor(map_z, dtype=torch.float32)
else:
    z0 = torch.zeros(model.latent_dim)
# A new start point moves every slider to it; otherwise the sliders keep what the user set.
signature = (cur.key, mode, start, index, seed, tuple(map_z) if start == "map" else None)
why_not = unsupported(model)
in_page = why_not is None
if st.session_state.get("_dec_signature") != signature or "dec_c" not in st.session_state:
    st.session_state["_dec_signature"] = signature
    st.session_state["_dec_version"] = st.session_state.get("_dec_version", 0) + 1
    c0 = [float(np.clip(ck, lo[k], hi[k])) for k, ck in enumerate(slider_coordinates(z0, basis.U))]
    st.session_state["dec_c"] = c0
    for k, ck in enumerate(c0):
        st.session_state[f"dec_s{k}"] = float(np.clip(round(ck / 0.05) * 0.05, lo[k], hi[k]))

if in_page:
    page_panel(model, z0, basis, lo, hi)
else:
    st.caption(f"The decoder runs on the server for this model ({why_not}).")
    decoder_panel(model, z0, basis, lo, hi)

if data is not None and model.is_variational and model.latent_dim > 1:
    kl = mean_kl_per_dim(caches.encoding(model, cur.key, dataset))
    st.plotly_chart(plots.bar_figure([f"z{d + 1}" for d in range(model.latent_dim)], kl, y_title="nats",
                                     title="Average KL(q(z_d|x) ‖ N(0, 1)) per dimension on the test set: "
                                           "near 0 means the decoder ignores that dimension"),
                    config={"displaylogo": False})
