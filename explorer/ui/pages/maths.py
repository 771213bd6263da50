"""The maths, live: the derivation of the VAE's bound, each equation beside its value for one image."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
import torch

from explorer.data import ImageDataset
from explorer.data.ref import model_unit
from explorer.evaluation import (AmortizationGap, ElboGap, GivenPosterior, LogLikelihood, amortization_gap,
                                 best_estimate, bound_terms, estimate_bands, log_likelihood,
                                 log_likelihood_with_weights, posterior_draws, repeats_for, running_estimates)
from explorer.figures.estimates import estimates_figure, gap_text
from explorer.figures.images import grid
from explorer.model.devices import single_threaded
from explorer.model.encoding import decode_images
from explorer.model.latent_model import LatentModel
from explorer.ui.state import posteriors, selection, widget_memory
from explorer.ui.state.current_model import Current
from explorer.ui.widgets import draw_panel, guards, pictures
from explorer.ui.widgets.plain_text import plain

K_CHOICES = [1, 10, 100, 1000, 5000, 20000]
K_DEFAULT = 1000


IS, NAIVE = "importance sampling, z ~ q(z|x)", "naive Monte Carlo, z ~ p(z)"


@st.cache_data(show_spinner="Sampling…", max_entries=128)
def live_numbers(_model: LatentModel, key: str, image: str, _x: torch.Tensor, seed: int, k: int) -> dict:
    """Every number on the page for one image and k, from the core (cached per model, image and k; image
    names _x, the picture as the likelihood sees it, and seed is its draws' seed).

    The image is scored in R independent runs of k draws (run 0 is the one whose numbers are shown; the
    others give each estimator's spread). One image is too little work for a second CPU thread (see
    single_threaded), and each run's k draws go through the decoder once, for its estimate and its curve."""
    runs = repeats_for(k)
    x = _x[None].to(next(_model.parameters()).device).expand(runs, *_x.shape)
    with single_threaded():
        ll, lw_q = log_likelihood_with_weights(_model, x, k, seed=seed)  # (k, runs): run i has its own stream
        naive, lw_p = log_likelihood_with_weights(_model, x, k, proposal="prior", seed=seed)
        closed = bound_terms(_model, x[:1], samples=1000, seed=seed)
    g = ElboGap.of(ll)
    ks = [int(v) for v in np.unique(np.geomspace(1, k, num=min(k, 40)).round())]
    bands = {IS: estimate_bands(lw_q, ks), NAIVE: estimate_bands(lw_p, ks)}
    curves = {name: running_estimates(lw[:, :1], ks)[0] for name, lw in ((IS, lw_q), (NAIVE, lw_p))}
    return {"log_px": g.log_px.estimate[0].item(), "log_px_se": g.log_px.stderr[0].item(),
            "log_px_run": g.log_px.select([0]),  # the run shown, for the choice of proposal in section 6
            "ess": g.log_px.ess[0].item(), "elbo_k": g.elbo[0].item(), "recon_k": g.recon[0].item(),
            "kl_mc": g.kl[0].item(), "gap": g.gap[0].item(), "gap_se": float(np.std(g.gap.cpu().numpy(), ddof=1))
            if runs > 1 else float("nan"), "naive": naive.estimate[0].item(), "naive_se": naive.stderr[0].item(),
            "naive_ess": naive.ess[0].item(), "recon": closed["recon"], "kl": closed["kl"], "elbo": closed["elbo"],
            "ks": ks, "curves": curves, "bands": bands, "runs": runs,
            "log_px_spread": float(bands[IS].std[-1]), "naive_spread": float(bands[NAIVE].std[-1])}


@st.cache_resource(show_spinner="Optimising q(z|x) for this one image…", max_entries=64)
def amortization(_model: LatentModel, key: str, image: str, _x: torch.Tensor, seed: int) -> AmortizationGap:
    """q* for one image (read-only: cached as a resource, not copied on every rerun)."""
    x = _x[None].to(next(_model.parameters()).device)
    with single_threaded():  # 300 Adam steps on one image: tiny ops, see live_numbers
        return amortization_gap(_model, x, steps=300, seed=seed)


@st.cache_data(show_spinner="Sampling from q*…", max_entries=128)
def log_px_q_star(_model: LatentModel, key: str, image: str, _x: torch.Tensor, seed: int,
                  k: int) -> LogLikelihood:
    """log p(x) importance-sampled with q* as proposal, k draws."""
    a = amortization(_model, key, image, _x, seed)
    x = _x[None].to(next(_model.parameters()).device)
    with single_threaded():
        return log_likelihood(GivenPosterior(_model, a.loc, a.scale), x, k, seed=seed)


def chosen_image(cur: Current, data: ImageDataset, column) -> tuple[torch.Tensor, str, int, str, tuple]:
    """The page's image as the likelihood sees it, its cache name, its seed, its caption and its q(z|x) as
    (mean, std): a test image (its posterior the Latent map's), or the drawing made on the Latent map
    (scored by the model's pixel rule, as the test images are, so its numbers are comparable with theirs)."""
    model = cur.model
    src = column.radio("Image", ["test", "drawing"], horizontal=True, key=widget_memory.key("maths_src"),
                       format_func={"test": "test image", "drawing": "your drawing"}.get)
    if src == "drawing":
        drawn = draw_panel.current(tuple(data.image_shape))
        if drawn is None:
            st.info("Draw a digit on the Latent map and press “Use it”, or switch back to a test image.")
            st.stop()
        x, caption = drawn
        digest = hashlib.sha1(x.numpy().tobytes()).hexdigest()  # the cache name of these exact pixels
        return posteriors.own_image(model, x), f"drawn:{digest}", 0, caption, posteriors.own_posterior(model, x)
    widget_memory.clamp_index("maths_index", len(data.test_x), selection.chosen_index(len(data.test_x)) or 0)
    index = int(column.number_input("Test image", 0, len(data.test_x) - 1, key=widget_memory.key("maths_index"),
                                    help="Defaults to the image chosen on the Latent map"))
    return (posteriors.test_image(model, data.name, index), f"{data.name}:{index}", index, "x",
            posteriors.test_posterior(model, cur.key, data.name, index))


def k_slider() -> None:
    """The k of every estimate on the page, drawn above the plot of the estimates against k. The page reads
    its value from the session before drawing it (a widget's new value is there when the rerun starts)."""
    st.select_slider("Samples k for the estimates (every number on this page uses it)", K_CHOICES,
                     value=K_DEFAULT, key=widget_memory.key("maths_k"))


def row(tex: str, label: str, value: str, help: str | None = None, nats: bool = True) -> None:
    """An equation and, beside it, its value for the chosen image (nats: labelled in nats per image)."""
    left, right = st.columns([2, 1], vertical_alignment="center")  # room for a label and its unit
    left.latex(tex)
    right.metric(f"{label} (nats per image)" if nats else label, value, help=help)


def split_the_gap(model: LatentModel, key: str, image: str, x_eval: torch.Tensor, seed: int, k: int, n: dict) -> None:
    """Section 6's second half: the gap split into its approximation and amortization parts (Cremer et al. 2018)."""
    f = "{:.2f}".format
    a = amortization(model, key, image, x_eval, seed)
    elbo_q, elbo_star = a.elbo_encoder.item(), a.elbo_optimised.item()
    star = log_px_q_star(model, key, image, x_eval, seed, k)
    log_px_star, log_px_star_se = star.estimate.item(), star.stderr.item()
    best = best_estimate(q_star=star, encoder=n["log_px_run"])  # the core decides which proposal to trust
    lp, lp_se, use_star = best.estimate.item(), best.stderr.item(), best.chosen[0] == "q_star"
    st.markdown("Part of the gap is the Gaussian family's fault, part is the encoder's: one network must serve every "
                "x. Optimising this image's own μ, σ directly (300 Adam steps) splits the two (Cremer et al. 2018). "
                "log p(x) here is the larger of two importance-sampled estimates, with the encoder's q or with q* "
                "as the proposal: both are low in expectation, so the larger is the tighter.")
    row(r"\underbrace{\log p(x) - \mathrm{ELBO}(q^*)}_{\text{approximation gap}} + \underbrace{\mathrm{ELBO}(q^*) - "
        r"\mathrm{ELBO}(q_\phi)}_{\text{amortization gap}}, \quad q^* = \arg\max_{\mu, \sigma} \mathrm{ELBO}",
        "amortization gap", f(elbo_star - elbo_q), f"ELBO with the encoder's q: {elbo_q:.2f}; with q*: {elbo_star:.2f}")
    approx_shown, approx_note = gap_text(lp - elbo_star, lp_se if k > 1 else n["log_px_spread"])
    row(r"\log p(x) - \mathrm{ELBO}(q^*)", "approximation gap", approx_shown,
        f"log p(x), k = {k:,}: {log_px_star:.2f} with q* as proposal, {n['log_px']:.2f} with the encoder's q")
    if approx_note:
        st.caption(approx_note)
    st.caption(f"Together {lp - elbo_q:.2f} nats = log p(x) − ELBO(q_φ), with log p(x) = {lp:.2f} (proposal "
               f"{'q*' if use_star else 'q(z|x)'}) and ELBO(q_φ) = {elbo_q:.2f} (on the 1,000 draws that scored q*); "
               "the gap above uses the §5 estimates instead.")
    if k > 1 and log_px_star - n["log_px"] > 3 * max(log_px_star_se, n["log_px_se"]):
        st.warning(f"With q* as proposal log p(x) comes out at {log_px_star:.2f}, well above the §5 estimate "
                   f"{n['log_px']:.2f} ± {n['log_px_se']:.2f} from the encoder's q: for this image q(z|x) is a poor "
                   "proposal, so §5 (and the gap above) underestimate, and their ± does not show it.",
                   icon=":material/warning:")


cur = guards.require_model()
data = guards.require_data(cur)
model = cur.model
st.title("The maths, live")
if not model.is_variational:
    kind = "an autoencoder" if model.config.kind == "ae" else "a denoising autoencoder"
    st.warning(f"**{plain(cur.name)}** is {kind}: "
               "its encoder returns one code, not a distribution q(z|x), and it was never trained against a "
               "prior p(z). The KL term, the ELBO and log p(x) are not defined for it, so this page needs a VAE. "
               "Choose one in the sidebar (the Latent map page shows what an AE's code space looks like).")
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1])
x_eval, image, seed, caption, (mu, sigma) = chosen_image(cur, data, c1)  # q(z|x) of x exactly as shown
k = int(st.session_state.get("maths_k", K_DEFAULT))  # its slider sits above the k plot in §5 (k_slider)
c2.image(pictures.png(x_eval, 112), output_format="PNG",
         caption=f"{caption} (as the likelihood sees it: {model_unit(model).scores})")
draws = decode_images(model, posterior_draws(model, x_eval[None], 8, seed=seed))
c3.image(pictures.png(grid(draws, nrow=4), 230), caption="8 draws z ~ q(z|x), decoded", output_format="PNG")
n = live_numbers(model, cur.key, image, x_eval, seed, k)
f = "{:.2f}".format
unit, dims = model_unit(model), x_eval.numel()
st.caption(f"Every bound and log-likelihood below is in {unit.label}."
           + (f" For this image log p(x) is {unit.show(n['log_px'], dims)}." if unit.probability else ""))

st.header("1. The model")
st.markdown("A latent code z is drawn from a fixed prior; a neural decoder with weights θ turns it into a "
            f"distribution over images ({model.config.likelihood.replace('_', ' ')} pixels here).")
row(r"p_\theta(x, z) = p(z)\,p_\theta(x \mid z), \qquad p(z) = \mathcal{N}(0, I_{%d})" % model.latent_dim,
    "latent size D", str(model.latent_dim), nats=False)
st.markdown("What we want is the evidence log p(x), an integral over every z. For a neural decoder it has no "
            "closed form, so we bound it.")
row(r"\log p_\theta(x) = \log \int p_\theta(x \mid z)\, p(z)\, dz", "log p(x), estimated in §5", f(n["log_px"]))

st.header("2. The evidence lower bound")
st.markdown("Bring in an encoder q_φ(z|x) ≈ p(z|x), write the integral as an expectation under it and move "
            "the log inside (Jensen's inequality, log is concave):")
st.latex(r"\log p_\theta(x) = \log \mathbb{E}_{q_\phi(z \mid x)}\!\left[\frac{p_\theta(x \mid z)\,p(z)}"
         r"{q_\phi(z \mid x)}\right] \;\ge\; \mathbb{E}_{q_\phi}\!\left[\log \frac{p_\theta(x \mid z)\,p(z)}"
         r"{q_\phi(z \mid x)}\right] = \mathrm{ELBO}")
row(r"\text{reconstruction: } \mathbb{E}_{q_\phi(z \mid x)}[\log p_\theta(x \mid z)]", "reconstruction",
    f(n["recon"]), "averaged over 1,000 draws of z")
row(r"\text{regulariser: } \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big)", "KL", f(n["kl"]), "closed form, §4")
row(r"\mathrm{ELBO} = \mathbb{E}_{q_\phi}[\log p_\theta(x \mid z)] - \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big)",
    "ELBO", f(n["elbo"]))

st.header("3. Reparameterisation")
st.markdown("To train φ by gradient descent, the randomness is moved out of the parameters (Kingma & Welling "
            "2014, sec. 2.4): a draw from q is a deterministic function of φ and of noise ε that does not "
            "depend on φ, so the gradient goes inside the expectation.")
row(r"z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I) "
    r"\;\Rightarrow\; \nabla_\phi \mathbb{E}_{q_\phi}[f(z)] = \mathbb{E}_{\varepsilon}[\nabla_\phi f(\mu_\phi + "
    r"\sigma_\phi \odot \varepsilon)]", "mean σ of q(z|x)", f"{sigma.mean():.3f}", nats=False)
st.caption("μ = " + ", ".join(f"{v:.2f}" for v in mu[:8].tolist()) + (" …" if model.latent_dim > 8 else "")
           + "   σ = " + ", ".join(f"{v:.3f}" for v in sigma[:8].tolist()) + (" …" if model.latent_dim > 8 else "")
           + ". The decoded draws above are z = μ + σ ⊙ ε for 8 values of ε.")

st.header("4. The KL term in closed form")
st.markdown("Both q and p are Gaussian, so their KL needs no sampling (Kingma & Welling 2014, appendix B). A "
            f"Monte Carlo estimate from the same k = {k:,} draws agrees up to noise:")
row(r"\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, I)\big) = \tfrac{1}{2}\sum_{d=1}^{D}"
    r"\left(\mu_d^2 + \sigma_d^2 - 1 - \log \sigma_d^2\right)", "closed form", f(n["kl"]))
row(r"\tfrac{1}{k}\textstyle\sum_i \left[\log q_\phi(z_i \mid x) - \log p(z_i)\right]", "Monte Carlo", f(n["kl_mc"]))

st.header("5. Estimating log p(x) by importance sampling")
st.markdown("The bound's inside is an importance weight. Averaging k of them before the log gives an estimate "
            "that tightens as k grows (Burda et al. 2016) and converges to log p(x); its standard error comes "
            "from the spread of the weights (delta method).")
row(r"\log p(x) \approx \log \frac{1}{k}\sum_{i=1}^{k} w_i, \quad w_i = \frac{p_\theta(x \mid z_i)\,p(z_i)}"
    r"{q_\phi(z_i \mid x)}, \; z_i \sim q_\phi(z \mid x)", f"log p(x), k = {k:,}",
    f"{n['log_px']:.2f} ± {n['log_px_se']:.2f}" if k > 1 else f(n["log_px"]),
    f"effective sample size {n['ess']:.0f} of {k}")
row(r"\text{naive: } \log p(x) \approx \log \frac{1}{k}\sum_{i=1}^{k} p_\theta(x \mid z_i), \; z_i \sim p(z)",
    f"naive, k = {k:,}", f"{n['naive']:.2f} ± {n['naive_se']:.2f}" if k > 1 else f(n["naive"]),
    f"effective sample size {n['naive_ess']:.1f} of {k}")
st.caption("Both averages of weights are unbiased for p(x) itself. Their log is not: log is concave, so "
           "log of an average is low on average (Jensen), by more the noisier the weights. The prior rarely "
           "proposes a z that explains this x, so the naive weights are very noisy: its estimate of log p(x) is "
           "far too low at small k, and one run can still land above the other estimates by luck, which its ± "
           "(from the same few big weights) does not show. The bands show how far repeated runs spread.")
k_slider()  # beside the plot it drives; every number on the page uses its k
fig, below = estimates_figure(n["curves"], n["bands"], n["elbo"], focus=IS)
st.plotly_chart(fig, config={"displaylogo": False})
st.caption(f"Shaded: 10% to 90% of {n['runs']} independent runs of k draws each; lines: the run whose numbers "
           "are shown above." + (f" {below[:1].upper()}{below[1:]}" if below else ""))

st.header("6. The gap")
st.markdown("What the bound misses is exactly how far q is from the true posterior; beside it, an estimate:")
gap_shown, _ = gap_text(n["gap"], n["gap_se"])  # from the same draws it is never below 0: no note to give
row(r"\log p_\theta(x) - \mathrm{ELBO} = \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p_\theta(z \mid x)\big) \ge 0",
    "gap", gap_shown, f"IS estimate minus the ELBO over the same {k:,} draws; ± is the spread over "
                             f"{n['runs']} runs")
st.caption(f"An estimate of the KL, not the KL: log of the mean weight minus the mean log weight over the same "
           f"{k:,} draws, which is never below 0 (Jensen) and is low on average at small k, as the log p(x) "
           f"estimate is; ± is its standard deviation over {n['runs']} independent runs.")
if getattr(model, "differentiable", True):
    split_the_gap(model, cur.key, image, x_eval, seed, k, n)
else:  # q* is found by gradient steps through the decoder
    st.caption("The gap's split into an amortization and an approximation part (Cremer et al. 2018) needs q*, "
               "found by gradient steps through the decoder; this model's networks run in onnxruntime, which "
               "gives no gradients, so the split is not shown.")
if k < 1000:
    st.caption("With small k the log p(x) estimate is itself low (it is a lower bound in expectation); raise k "
               "for gaps you can trust.")
