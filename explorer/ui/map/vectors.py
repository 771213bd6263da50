"""The Latent map's attribute vectors and analogies (White 2016; dribnet/plat): a vector from two groups'
mean codes applied to the chosen image at strengths -2..+2 (a row of decodes, the path on the map), and
a : b :: c : ? with the linear and the spherical answer."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.latent.attributes import analogy, apply_vector, attribute_vector, label_ids
from explorer.model.encoding import decode_images
from explorer.ui.map import tools, view
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import pictures

STRENGTHS = np.linspace(-2.0, 2.0, 9)


def _groups(data: ImageDataset) -> dict[str, np.ndarray]:
    """What a vector can be built from: each label, and each saved selection."""
    out: dict[str, np.ndarray] = {}
    if data.test_y is not None:
        labels = data.test_y.numpy()
        names = data.classes or []
        for v in np.unique(labels):
            out[f"label {names[v] if v < len(names) else v}"] = label_ids(labels, int(v))
    for name, ids in tools.saved(data.name).items():
        out[f"selection “{name}”"] = np.asarray(ids)
    return out


def attribute_panel(cur: Current, data: ImageDataset, md: view.MapData, index: int) -> dict:
    """The vector's row of decodes for the chosen image; returns its path on the map."""
    st.caption("An attribute vector is the mean code of one group minus that of another (two labels, or two "
               "saved selections). Added to the chosen image's code with a strength from −2 to +2, it moves "
               "the image towards the second group (positive) or away from it. The purple path on the map is "
               "where those codes lie; the ring marks +2.")
    groups = _groups(data)
    if len(groups) < 2:
        st.info("This data set has no labels: save two selections to build a vector from them.")
        return {}
    names = list(groups)
    c1, c2 = st.columns(2)
    a = c1.selectbox("From (minus)", names, index=min(1, len(names) - 1), key="attr_from")
    b = c2.selectbox("To (plus)", names, index=min(7, len(names) - 1), key="attr_to")
    vec = attribute_vector(md.enc.mean, groups[a], groups[b])
    Z = apply_vector(md.enc.mean[index], vec.vector, STRENGTHS)
    images = decode_images(cur.model, torch.from_numpy(Z).float())
    st.image([pictures.png(x, 72) for x in images], caption=[f"{s:+.1f}" for s in STRENGTHS], width=72,
             output_format="PNG")
    st.caption(f"Test image {index} moved along ({b}) − ({a}): means of {vec.n_to:,} and {vec.n_from:,} images, "
               f"vector length {np.linalg.norm(vec.vector):.3f}. Strength 0 is the image's own code.")
    if not md.proj.inductive:
        st.caption(f"{md.proj.label} cannot place new points, so the path is not drawn on this map.")
        return {}
    xy = md.proj.transform(Z)
    return {"path": [float(v) for v in xy.reshape(-1)]}


def analogy_panel(cur: Current, data: ImageDataset, md: view.MapData, index: int) -> None:
    st.caption("a : b :: c : ?  The decoder's answer to “a is to b as c is to what?”. Linear: z_c + (z_b − z_a). "
               "Spherical: c's code turned on the sphere the way a's turns into b's (in their plane), its "
               "length scaled by |z_b| / |z_a|; with a Gaussian prior it stays where codes usually are.")
    n = len(data.test_x)
    c1, c2, c3 = st.columns(3)
    ia = c1.number_input("a (test image)", 0, n - 1, 0, key="an_a")
    ib = c2.number_input("b (test image)", 0, n - 1, min(1, n - 1), key="an_b")
    ic = c3.number_input("c (test image; the chosen one to start)", 0, n - 1, index, key="an_c")
    za, zb, zc = (md.enc.mean[int(i)] for i in (ia, ib, ic))
    answers = np.stack([analogy(za, zb, zc, "linear"), analogy(za, zb, zc, "spherical")])
    decoded = decode_images(cur.model, torch.from_numpy(answers).float())
    images = [data.test_x[int(i)] for i in (ia, ib, ic)] + [decoded[0], decoded[1]]
    st.image([pictures.png(x, 84) for x in images], width=84, output_format="PNG",
             caption=[f"a = {int(ia)}", f"b = {int(ib)}", f"c = {int(ic)}", "? linear", "? spherical"])
