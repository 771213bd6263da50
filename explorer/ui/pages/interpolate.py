"""Interpolate: a straight line and a great-circle arc between two codes, against a pixel cross-fade."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset, image_from_bytes, match_background
from explorer.figures import plots
from explorer.figures.images import gif_bytes, to_uint8
from explorer.latent.geometry import lerp, pixel_crossfade, prior_log_density, slerp
from explorer.model.encoding import decode_images
from explorer.ui.map import view
from explorer.ui.state import posteriors, selection, widget_memory
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import draw_panel, guards, pictures
from explorer.ui.widgets.plain_text import plain

ROWS = {"lerp": "linear (lerp)", "slerp": "spherical (slerp)", "pixels": "pixel cross-fade"}
COLORS = {"lerp": "#222222", "slerp": "#d62728"}  # the same path has the same colour on the map and the plot
MAP_KEY = "interp_map"
SOURCES = {"index": "test image", "upload": "upload a picture", "drawing": "your drawing"}


def pick(side: str, data: ImageDataset, default: int) -> tuple[torch.Tensor, str, int | None] | None:
    """Image A or B: a test image by index (or map click), an uploaded picture, or the drawing made on the
    Latent map, as (picture, caption, test image index or None); None after an error."""
    st.markdown(f"**{side}**")
    src = st.radio(f"{side} from", list(SOURCES), horizontal=True, key=widget_memory.key(f"src_{side}"),
                   label_visibility="collapsed", format_func=SOURCES.get)
    if src == "drawing":
        drawn = draw_panel.current(tuple(data.image_shape))
        if drawn is None:
            st.info(f"Draw one on the Latent map and press “Use it”; it can then be {side}.")
            return None
        return drawn[0], drawn[1], None
    if src == "index":
        widget_memory.clamp_index(f"idx_{side}", len(data.test_x), default)
        i = int(st.number_input(f"Test image index for {side}", 0, len(data.test_x) - 1,
                                key=widget_memory.key(f"idx_{side}")))
        label = data.classes[int(data.test_y[i])] if data.test_y is not None and data.classes else "?"
        return data.test_x[i], f"test image {i} (label {label})", i
    up = st.file_uploader(f"Picture for {side}", key=f"up_{side}", type=None,
                          help="Any PNG or JPEG: centre-cropped, resized and made grey (or colour) to fit the "
                               "model's input.")
    if up is None:
        st.info(f"Upload a picture for {side}, or switch back to a test image.")
        return None
    try:
        x = image_from_bytes(up.getvalue(), tuple(data.image_shape))
    except ValueError as e:
        st.error(f"{plain(up.name)} cannot be used: {plain(e)}")
        return None
    x, inverted = match_background(x, data.test_x)
    if inverted:
        st.caption(f"Inverted: {plain(up.name)} has a light background where the {data.name} images have a dark "
                   "one (or the reverse), and the model has only seen theirs.")
    return x, f"upload {plain(up.name)}" + (" (inverted)" if inverted else ""), None


def posterior_mean(cur: Current, data: ImageDataset, x: torch.Tensor, index: int | None) -> torch.Tensor:
    """The mean of q(z|x) of A or B, of the image the likelihood scores: a test image's is its point on the
    Latent map (the same encoding), a drawing's or an upload's is taken by the same rule."""
    model = cur.model
    mu = (posteriors.test_posterior(model, cur.key, data.name, index)[0] if index is not None
          else posteriors.own_posterior(model, x)[0])
    return torch.from_numpy(np.asarray(mu, dtype=np.float32))


def handoffs(n: int) -> None:
    """Choices made elsewhere (map-page buttons, a click on this page's map) become this page's indices."""
    for side in ("A", "B"):
        i = selection.take_interpolation_end(side, n)
        if i is not None:
            st.session_state[f"idx_{side}"], st.session_state[f"src_{side}"] = i, "index"


cur = guards.require_model()
data = guards.require_data(cur)
model = cur.model
st.title("Interpolate")
st.caption(f"**{plain(cur.name)}**: walk from A to B in latent space and decode every step. A cross-fade of the pixels "
           "shows what the walk is not: where the latent space is well learned, every step decodes to a plausible "
           "image.")

target = st.radio("A click on the map below picks", ["A", "B"], horizontal=True, key="click_target")
clicked = view.consume_click(MAP_KEY)
if clicked is not None:
    selection.set_interpolation_end(target, clicked)
handoffs(len(data.test_x))
sel = selection.chosen_index(len(data.test_x)) or 0
ca, cb, cs = st.columns([2, 2, 1])
with ca:
    a = pick("A", data, sel)
with cb:
    b = pick("B", data, (sel + 1) % len(data.test_x))
steps = cs.slider("Steps", 3, 20, 10, key=widget_memory.key("interp_steps"))
if a is None or b is None:
    st.stop()
(xa, name_a, ia), (xb, name_b, ib) = a, b
ca.image(pictures.png(xa, 84), caption=name_a, output_format="PNG")
cb.image(pictures.png(xb, 84), caption=name_b, output_format="PNG")

za, zb = posterior_mean(cur, data, xa, ia), posterior_mean(cur, data, xb, ib)
paths = {"lerp": lerp(za, zb, steps), "slerp": slerp(za, zb, steps)}
frames = {k: decode_images(model, z) for k, z in paths.items()}
frames["pixels"] = pixel_crossfade(xa, xb, steps)
tiles = np.stack([np.stack([to_uint8(x) for x in frames[k]]) for k in ROWS])
strip = plots.labelled_rows_png(tiles, list(ROWS.values()), [f"t={t:.2f}" for t in np.linspace(0, 1, steps)],
                                scale=pictures.factor(tiles.shape[3], 56))
st.image(strip, caption="A → B; the first and last latent images are the reconstructions of A and B",
         output_format="PNG")
if torch.allclose(za, zb):
    st.info("A and B have the same code, so every step decodes to the same image. Pick two different images.")

left, right = st.columns([3, 2])
with left:
    method, n = view.controls(cur, len(data.test_x), "interp", inductive_only=True)
    md = view.load(cur, data, method, n)
    fig = view.figure(cur, data, md, height=480)
    for k, dash in (("lerp", "solid"), ("slerp", "dash")):
        plots.add_path(fig, md.proj.transform(paths[k].double().numpy()), ROWS[k], COLORS[k], dash)
    ends = md.proj.transform(torch.stack([za, zb]).double().numpy())
    plots.add_endpoints(fig, ends[0], ends[1])
    view.selectable_chart(fig, MAP_KEY)
    if model.latent_dim > 2:
        st.caption("In more than 2 dimensions the map is a projection: slerp's arc can look like a line here.")
with right:
    t = np.linspace(0, 1, steps)
    series = {ROWS[k]: prior_log_density(paths[k]).numpy() for k in ("lerp", "slerp")}
    st.plotly_chart(plots.line_figure(t, series, x_title="t (0 = A, 1 = B)", y_title="log p(z) (nats)",
                                      title="Prior log-density along the path", height=360,
                                      colors=list(COLORS.values())), config={"displaylogo": False})
    if model.is_variational and model.latent_dim >= 8:
        st.caption(f"In {model.latent_dim} dimensions N(0, I) puts its mass on a shell of radius ≈ "
                   f"√{model.latent_dim} ≈ {model.latent_dim ** 0.5:.1f}, and a straight line cuts inside it, "
                   "where typical codes never are. Slerp keeps the norm near the ends' (White 2016).")
    elif model.is_variational:
        st.caption(f"With only {model.latent_dim} dimensions there is no thin shell: the prior is densest at the "
                   "origin, so the straight line is usually the likelier path, and slerp's arc can swing out "
                   "past the data. Slerp pays off in many dimensions (White 2016).")
    else:
        kind = model.config.kind.upper()
        st.caption(f"{'An' if kind == 'AE' else 'A'} {kind} has no prior; N(0, I) is drawn here only for comparison.")

st.subheader("Export")
c1, c2, c3 = st.columns(3)
c1.download_button("Strip (PNG)", strip, file_name=f"{cur.name}_interpolation.png", mime="image/png",
                   key="dl_strip")
which = c2.selectbox("Animate", list(ROWS), format_func=ROWS.get, key="gif_path", label_visibility="collapsed")
gif = gif_bytes(frames[which], scale=pictures.factor(frames[which].shape[-1], 112))
c3.download_button(f"Animation of the {ROWS[which]} (GIF)", gif, file_name=f"{cur.name}_{which}.gif",
                   mime="image/gif", key="dl_gif")
