"""The Train page's settings form: four columns of widgets (data, model, objective, optimisation) and the
JobSpec that Start makes of them, or a message next to the form when a setting is bad."""
from __future__ import annotations

import re

import streamlit as st

from explorer.data import DATASETS
from explorer.data.pixels import CHOICES
from explorer.data.roots import allowed_data_dir
from explorer.jobs import JobSpec
from explorer.model.config import LIKELIHOODS
from explorer.model.devices import available_devices
from explorer.train.trainer import TrainConfig, check_kind_options
from explorer.ui.state import widget_memory
from explorer.ui.training import browser_jobs

DEFAULT_DATASET = "mnist"  # what the app opens on (the shipped default model is an MNIST VAE)
KIND_NAMES = {"vae": "VAE", "ae": "AE", "dae": "DAE (denoising)"}
ARCH_NAMES = {"mlp": "MLP", "conv": "conv"}
ESTIMATOR_NAMES = {"analytic": "closed form", "mc": "Monte Carlo"}
PIXEL_NAMES = {"auto": "auto (by decoder)", "binarized": "binarized", "dequantized": "dequantized",
               "grey": "grey levels"}


def settings_form(disabled: bool) -> JobSpec | None:
    """The settings (a JobSpec when Start is pressed). Plain widgets in a fragment, not an st.form: a change
    reruns only the fragment, and every value is in session_state at once, so an edit not yet started
    survives a visit to another page (widget_memory.key); a form would hold it in the browser until submitted."""
    # An edit's rerun can be cut short by a click elsewhere or a reload before the widgets below are drawn: the
    # browser's memory takes the edit now, from the value the page sent, and again after drawing (new defaults).
    browser_jobs.remember_form(widget_memory.registered("train_"))
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            data = data_settings()
        with c2:
            model = model_settings()
        with c3:
            objective = objective_settings()
        with c4:
            optimisation = optimisation_settings()
        start = st.button("Start training", type="primary", disabled=disabled, key="train_start")
    widget_memory.remember()  # this fragment's edits survive a page switch (widget_memory.keep_widget_values)
    # and a new session of this browser (a reload, a reconnect)
    browser_jobs.remember_form(widget_memory.registered("train_"))
    return job_spec(data, model, objective, optimisation) if start else None


def data_settings() -> dict:
    st.markdown("**Data**")
    return dict(
        dataset=st.selectbox("Dataset", sorted(DATASETS), index=sorted(DATASETS).index(DEFAULT_DATASET),
                             key=widget_memory.key("train_dataset"),
                             help="mnist uses the full 60,000 images when they are found "
                                  "(EXPLORER_DATA_DIR), otherwise the bundled 10,000-image test split."),
        data_dir=st.text_input("Data directory (optional)", key=widget_memory.key("train_data_dir"),
                               help="Where the dataset's files are; empty: EXPLORER_DATA_DIR or the "
                                    "data cache. For folder: the folder of pictures."),
        download=st.checkbox("Download if missing", False, key=widget_memory.key("train_download_data"),
                             help="Fetch MNIST / Fashion-MNIST / Frey from public mirrors into the "
                                  "data cache when they are not on disk."),
        seed=st.number_input("Seed", 0, 2**31 - 1, 0, key=widget_memory.key("train_seed")),
        device=st.selectbox("Device", ["auto"] + available_devices(), key=widget_memory.key("train_device")))


def model_settings() -> dict:
    st.markdown("**Model**")
    return dict(
        kind=st.radio("Model kind", list(KIND_NAMES), format_func=KIND_NAMES.get, horizontal=True,
                      key=widget_memory.key("train_kind")),
        arch=st.radio("Architecture", list(ARCH_NAMES), format_func=ARCH_NAMES.get, horizontal=True,
                      key=widget_memory.key("train_arch")),
        hidden=st.text_input("Hidden sizes", "400", key=widget_memory.key("train_hidden"),
                             help="MLP layer widths or conv channel counts, comma-separated, e.g. 200,200"),
        latent=st.number_input("Latent size", 1, 256, 2, key=widget_memory.key("train_latent"),
                               help="2 draws the map directly; larger latents are drawn by PCA."))


def objective_settings() -> dict:
    st.markdown("**Objective**")
    out = dict(
        likelihood=st.selectbox("Likelihood", LIKELIHOODS, key=widget_memory.key("train_likelihood"),
                                help="The decoder's p(x|z): Bernoulli pixels, or Gaussian with a fixed or a "
                                     "learned sigma."),
        pixels=st.selectbox("Pixels", CHOICES, format_func=PIXEL_NAMES.get, key=widget_memory.key("train_pixels"),
                            help="What the likelihood scores. auto: binarized for Bernoulli (a log-probability "
                                 "of binary images), dequantized for Gaussian (a bound on the log-probability of "
                                 "the image's own grey levels, 256 for 8-bit images, 17 for digits, in nats and "
                                 "bits/dim); grey levels give a "
                                 "cross-entropy or a density, not comparable with other models."),
        beta=st.number_input("β (KL weight)", 0.0, 100.0, 1.0, 0.1, key=widget_memory.key("train_beta")),
        warmup=st.number_input("KL warm-up (epochs)", 0.0, 1000.0, 0.0, 1.0, key=widget_memory.key("train_warmup"),
                               help="β rises linearly from 0 over this many epochs."),
        iwae_k=st.number_input("IWAE k", 1, 1000, 1, key=widget_memory.key("train_iwae_k"),
                               help="k > 1 trains on the importance-weighted bound of Burda et al. (VAE only)."))
    iwae = out["iwae_k"] > 1  # the IWAE bound weighs each draw's log p(z) - log q(z|x): it has no KL term
    out["estimator"] = st.radio(
        "KL estimator", list(ESTIMATOR_NAMES), format_func=ESTIMATOR_NAMES.get, horizontal=True,
        key=widget_memory.key("train_estimator"), disabled=iwae,
        help=("No effect on an IWAE training (k > 1): its bound has no separate KL term to estimate; each "
              "draw's log p(z) − log q(z|x) enters its weight (Burda et al. 2016)." if iwae else
              "closed form = SGVB B; Monte Carlo = SGVB A (Kingma & Welling 2014)"))
    if iwae:
        st.caption("KL estimator: no effect on training with IWAE k > 1 (its bound has no KL term).")
    return out


def optimisation_settings() -> dict:
    st.markdown("**Optimisation**")
    return dict(epochs=st.number_input("Epochs", 1, 10_000, 10, key=widget_memory.key("train_epochs")),
                batch_size=st.number_input("Batch size", 1, 65_536, 128, key=widget_memory.key("train_batch_size")),
                lr=st.number_input("Learning rate", 1e-6, 10.0, 1e-3, 1e-4, format="%.4g",
                                   key=widget_memory.key("train_lr")))


def job_spec(data: dict, model: dict, objective: dict, optimisation: dict) -> JobSpec | None:
    """The JobSpec of the form's values, or None after an error message next to the form."""
    try:
        hidden_sizes = tuple(int(h) for h in re.split(r"[,\s]+", model["hidden"].strip()) if h)
    except ValueError:
        st.error(f"Cannot start: hidden sizes are whole numbers separated by commas, e.g. 400 or 512,256; "
                 f"got {model['hidden']!r}.")
        return None
    try:
        train = TrainConfig(epochs=int(optimisation["epochs"]), batch_size=int(optimisation["batch_size"]),
                            lr=float(optimisation["lr"]), beta=float(objective["beta"]),
                            warmup_epochs=float(objective["warmup"]), estimator=objective["estimator"],
                            iwae_k=int(objective["iwae_k"]), seed=int(data["seed"]), device=data["device"])
        check_kind_options(model["kind"], train)
        return JobSpec(dataset=data["dataset"],
                       data_dir=allowed_data_dir(data["data_dir"], st.context.ip_address is not None),
                       train=train, download=data["download"], pixels=objective["pixels"],
                       model=dict(kind=model["kind"], arch=model["arch"], hidden=hidden_sizes,
                                  latent_dim=int(model["latent"]), likelihood=objective["likelihood"]))
    except ValueError as e:  # a bad setting is a message next to the form, not a traceback
        st.error(f"Cannot start: {e}")
        return None
