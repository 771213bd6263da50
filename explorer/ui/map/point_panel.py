"""One chosen test image: the picture, its reconstruction, q(z|x), its ELBO and log p(x)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.data.ref import model_unit
from explorer.evaluation import bound_terms, log_likelihood
from explorer.model.devices import single_threaded
from explorer.model.latent_model import LatentModel
from explorer.ui.state import map_points, posteriors, selection
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import pictures
from explorer.ui.widgets.number_table import per_dimension

LL_SAMPLES = 1000  # importance samples for the per-point log p(x): a few ms for an MLP


@st.cache_data(show_spinner="Estimating log p(x)…", max_entries=512)
def numbers(_model: LatentModel, key: str, dataset: str, index: int, k: int = LL_SAMPLES) -> dict[str, float]:
    """ELBO terms and the importance-sampled log p(x) of one test image (cached per model and image)."""
    x = posteriors.test_image(_model, dataset, index)[None]  # the image the map's posterior is of
    with single_threaded():  # one image: a second CPU thread only waits at barriers on a busy machine
        # the same draws as the maths page's (1,000, seeded by the index): one image, one ELBO on both pages
        out = bound_terms(_model, x, samples=1000, seed=index)
        if _model.is_variational:
            ll = log_likelihood(_model, x.to(next(_model.parameters()).device), k, seed=index)
            out.update(log_px=ll.estimate.item(), log_px_se=ll.stderr.item(), ess=ll.ess.item())
    return out


def image(x, caption: str) -> None:
    st.image(pictures.png(x, 140), caption=caption, output_format="PNG")


def render_z(cur: Current, z: list[float]) -> None:
    """A point clicked on empty map space: what the decoder makes of it, and its prior density."""
    model = cur.model
    zt = torch.tensor([z], dtype=torch.float32, device=next(model.parameters()).device)
    img = model.decode_mean(zt).cpu()[0]
    image(img, "mean of p(x | z) at the clicked point")
    if model.is_variational:
        st.metric("log p(z) (nats)", f"{model.prior.log_prob(zt).item():.2f}", help="log N(z; 0, I)")
    per_dimension(["z"], [z])
    if st.button("Start the decoder sliders here", key="z_to_decoder", width="stretch"):  # one to a row: narrow
        selection.start_decoder_at_z(z)
        st.toast("The Decoder sliders page now starts from this point")
    st.button("Back to the chosen image", key="z_back", on_click=selection.back_to_image, width="stretch")


def render_drawn(cur: Current, x: torch.Tensor, caption: str) -> None:
    """The drawing handed over by "Use it": the picture, its reconstruction and q(z|x) (of the drawing as
    the likelihood sees it, as on the maths page)."""
    model = cur.model
    mu, sigma = posteriors.own_posterior(model, x)
    c1, c2 = st.columns(2)
    with c1:
        image(x, caption)
    with c2:
        image(decoded_mean(model, mu), "reconstruction E[x | z = μ]")
    posterior_table(model, mu, sigma)
    st.caption("Its ELBO and log p(x) are on the maths page (choose “your drawing” there); Interpolate takes "
               "it as A or B.")


def decoded_mean(model: LatentModel, mu: np.ndarray) -> torch.Tensor:
    """E[x | z = mu], the reconstruction from the posterior mean shown beside it."""
    z = torch.as_tensor(mu, dtype=torch.float32, device=next(model.parameters()).device)[None]
    with torch.no_grad():
        return model.decode_mean(z).cpu()[0]


def posterior_table(model: LatentModel, mu: np.ndarray, sigma: np.ndarray) -> None:
    """q(z|x)'s mean and std per dimension."""
    per_dimension(["posterior mean μ", "posterior std σ"], [mu, sigma])


def render(cur: Current, data: ImageDataset, index: int) -> None:
    """Point index of data (a test image, or a training image when the map shows that split): its picture
    (grey, as people see it), and the reconstruction, q(z|x) and numbers of the image the likelihood scores (the
    map's point and ellipse are of the same q(z|x))."""
    model = cur.model
    mu, sigma = posteriors.test_posterior(model, cur.key, data.name, index)
    label = data.classes[int(data.test_y[index])] if data.test_y is not None and data.classes else "?"
    what = map_points.describe(data, index)  # a point of the training split is a training image
    c1, c2 = st.columns(2)
    with c1:
        image(data.test_x[index], f"{what} (label {label})")
    with c2:
        image(decoded_mean(model, mu), "reconstruction E[x | z = μ]")
    n = numbers(model, cur.key, data.name, index)
    if model.is_variational:
        # one a row: in the narrow panel beside the map two side by side cut their labels to "ELBO (nats per i…"
        st.metric("ELBO (nats per image)", f"{n['elbo']:.2f}", help="E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))")
        st.metric("log p(x) (nats per image)", f"{n['log_px']:.2f}", help=f"importance sampling, k = {LL_SAMPLES}")
        note = (f"μ, σ and the numbers ({model_unit(model).label}) are of the {what.split()[0]} image as the "
                "likelihood sees it (the picture shows its grey levels).")
        st.caption(f"gap log p(x) − ELBO {n['log_px'] - n['elbo']:.2f} nats per image (= KL(q(z|x) ‖ p(z|x)) ≥ 0, up to "
                   f"Monte Carlo error); reconstruction term {n['recon']:.2f}, KL {n['kl']:.2f} nats per image; log p(x) "
                   f"standard error ±{n['log_px_se']:.3f} with k = {LL_SAMPLES} (effective sample size {n['ess']:.0f}). {note}")
    else:
        st.metric("log p(x | z = code) (nats per image)", f"{n['recon']:.2f}")
        st.caption(f"A{'' if model.config.kind == 'ae' else ' denoising'} autoencoder has a point code, not "
                   "a posterior: no KL, no ELBO, no log p(x). The ellipse and the bound need a VAE.")
    posterior_table(model, mu, sigma)
    _hand_offs(map_points.test_index(data, index))


def _hand_offs(index: int | None) -> None:
    """Buttons that start the other pages at test image index; they take test images only."""
    if index is None:
        st.caption("Interpolate and the decoder sliders start from test images: choose one of the test split's "
                   "points to send it there.")
        return
    # Hand-offs to the other pages: each takes its start from the selection once. One to a row, so their
    # words fit the narrow panel beside the map.
    if st.button("Interpolate from here (A)", key="use_as_a", width="stretch"):
        selection.set_interpolation_end("A", index)
        st.toast(f"Image {index} is now A on the Interpolate page")
    if st.button("Interpolate to here (B)", key="use_as_b", width="stretch"):
        selection.set_interpolation_end("B", index)
        st.toast(f"Image {index} is now B on the Interpolate page")
    if st.button("Start the decoder sliders here", key="to_decoder", width="stretch"):
        selection.start_decoder_at_image(index)
        st.toast(f"The Decoder sliders page now starts from image {index}")

