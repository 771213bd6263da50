"""A guided lesson: the ideas of a VAE in order, each in a few sentences beside one live element on the
current model. Every number comes from the core (explorer.model.encoding, explorer.evaluation)."""
from __future__ import annotations

import streamlit as st
import torch

from explorer.data.ref import model_unit
from explorer.evaluation import bound_terms, log_likelihood, posterior_draws
from explorer.figures.images import grid
from explorer.model.encoding import decode_images
from explorer.ui.map import extras
from explorer.ui.state import posteriors, selection, widget_memory
from explorer.ui.widgets import guards, pictures
from explorer.ui.widgets.plain_text import plain

STEPS = ["What the encoder outputs", "Reparameterisation", "The two terms of the ELBO", "The gap",
         "Why the prior matters", "VAE or autoencoder"]


@st.cache_data(show_spinner="Estimating log p(x)…", max_entries=64)
def numbers(_model, key: str, index: int, _x: torch.Tensor) -> dict:
    terms = bound_terms(_model, _x[None], samples=1000, seed=index)
    ll = log_likelihood(_model, _x[None].to(next(_model.parameters()).device), 1000, seed=index)
    return {**terms, "log_px": ll.estimate.item(), "se": ll.stderr.item()}  # terms: recon, kl, elbo, elbo_se


cur = guards.require_model()
data = guards.require_data(cur)
model = cur.model
st.title("A guided lesson")
st.caption(f"Six steps through what a variational autoencoder is, each on the model in the sidebar "
           f"(**{plain(cur.name)}**). Read them in order; every number is computed live.")
if not model.is_variational:
    st.warning("This lesson is about a VAE: its first four steps need an encoder that outputs a distribution. "
               "Choose a VAE in the sidebar (for example mnist_vae2); steps 5 and 6 compare it with this kind "
               "of model.")
    st.stop()

widget_memory.clamp_index("lesson_index", len(data.test_x), selection.chosen_index(len(data.test_x)) or 0)
index = int(st.number_input("The test image this lesson follows", 0, len(data.test_x) - 1, key="lesson_index"))
x = posteriors.test_image(model, data.name, index)  # as the likelihood sees it, like every number below
mu, sigma = posteriors.test_posterior(model, cur.key, data.name, index)  # the map's point for this image
n = numbers(model, cur.key, index, x)
dims = ", ".join(f"{v:.2f}" for v in mu[:4].tolist()) + (" …" if model.latent_dim > 4 else "")
sds = ", ".join(f"{v:.3f}" for v in sigma[:4].tolist()) + (" …" if model.latent_dim > 4 else "")

st.header(f"1. {STEPS[0]}")
left, right = st.columns([1, 3])
left.image(pictures.png(x, 112), caption=f"test image {index}", output_format="PNG")
right.markdown(f"The encoder does not give one code for this image: it gives a whole distribution over codes, "
               f"a Gaussian q(z|x) with a mean μ and a standard deviation σ for each of the {model.latent_dim} "
               f"latent dimensions. Here μ = ({dims}) and σ = ({sds}). A small σ means the encoder is sure "
               "where this image belongs.")

st.header(f"2. {STEPS[1]}")
seed = int(st.number_input("Noise seed", 0, 10_000, 0, key="lesson_seed", help="Another seed, other draws of ε"))
draws = decode_images(model, posterior_draws(model, x[None], 8, seed=seed))
left, right = st.columns([1, 1])
left.image(pictures.png(grid(draws, nrow=4), 230), caption="8 codes z = μ + σ ⊙ ε, decoded", output_format="PNG")
right.markdown("To learn from a random code, the randomness is taken out of the network: draw noise ε from "
               "N(0, I) and set z = μ + σ ⊙ ε. Now z moves smoothly with μ and σ, so gradients reach the "
               "encoder (Kingma & Welling 2014). The eight pictures are eight such z: they vary as much as σ "
               "allows.")

st.header(f"3. {STEPS[2]}")
c1, c2, c3 = st.columns(3)
c1.metric("reconstruction (nats per image)", f"{n['recon']:.2f}", help="E_q[log p(x|z)], averaged over 1,000 draws")
c2.metric("KL (nats per image)", f"{n['kl']:.2f}", help="KL(q(z|x) || p(z)), in closed form")
c3.metric("ELBO (nats per image)", f"{n['elbo']:.2f}")
st.caption(f"Units: {model_unit(model).label}; the image is scored as {model_unit(model).scores}.")
st.markdown(f"Training maximises the evidence lower bound, ELBO = reconstruction − KL. The reconstruction term "
            f"({n['recon']:.2f}) rewards codes the decoder can turn back into this image; the KL term "
            f"({n['kl']:.2f} nats) charges for how far q(z|x) strays from the prior N(0, I). The two pull "
            "against each other: that tension is what makes the latent space smooth.")

st.header(f"4. {STEPS[3]}")
gap = n["log_px"] - n["elbo"]
gap_se = (n["se"] ** 2 + n["elbo_se"] ** 2) ** 0.5  # two estimates from independent draws
st.metric("log p(x) − ELBO (nats per image)", f"{gap:.2f} ± {gap_se:.2f}",
          help=f"an estimate: log p(x) = {n['log_px']:.2f} ± {n['se']:.2f} importance-sampled with 1,000 draws "
               f"from q(z|x), minus the ELBO {n['elbo']:.2f} ± {n['elbo_se']:.2f} from 1,000 other draws; "
               "± is the Monte Carlo standard error")
st.markdown(f"The ELBO is a lower bound on log p(x), the log-probability the model gives this image. The bound "
            "misses by exactly KL(q(z|x) || p(z|x)), how far the encoder's Gaussian is from the true posterior. "
            f"Neither side is known exactly here: log p(x) is estimated by importance sampling, "
            f"{n['log_px']:.2f} ± {n['se']:.2f}, and the ELBO's reconstruction term by 1,000 draws, so the gap "
            f"shown, {gap:.2f} ± {gap_se:.2f} nats, is an estimate of that KL with its standard error: it can come "
            "out below 0 by noise, though the KL cannot. The maths page takes this apart further.")

st.header(f"5. {STEPS[4]}")
st.markdown("A VAE generates by decoding codes drawn from the prior. That works only where the codes of real "
            "images fill the prior: holes decode to blends. Compare prior samples with samples from a mixture "
            "fitted to where the test images' codes actually are.")
extras.samples(cur, data)

st.header(f"6. {STEPS[5]}")
st.markdown("An autoencoder has the same encoder and decoder but no prior and no KL: its codes can sit "
            "anywhere, in any shape. Put the maps side by side (the Latent map page has the same view).")
extras.compare(cur, data, "pca", min(2000, len(data.test_x)))
st.page_link("explorer/ui/pages/map.py", label="Explore the latent map", icon=":material/scatter_plot:")
