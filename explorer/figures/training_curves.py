"""Figures of a training run from a jobs.JobSnapshot: the ELBO and its two terms, beta, and the KL
of each latent dimension (for an autoencoder, the reconstruction term alone). They return Plotly
figures; they never call Streamlit or write files."""
from __future__ import annotations

import copy
import functools
import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..evaluation.latent_use import alive
from ..model.objectives import bound_name
from .plots import PALETTE

if TYPE_CHECKING:  # a type only: figures come before jobs in the pipeline
    from ..jobs import JobSnapshot

# train per step: a thin line; test per epoch: markers joined by a line, in a darker shade
SERIES = {"bound": ("ELBO", PALETTE[0], "#1F2A8C"), "recon": ("reconstruction", PALETTE[2], "#00704F"),
          "kl": ("KL", PALETTE[3], "#5B1F9E")}


def curves_figure(snap: JobSnapshot, height: int = 340, iwae_k: int = 1, autoencoder: bool = False) -> go.Figure:
    """Left: the ELBO and its reconstruction term (nats per image) on an axis zoomed past the first
    epoch's fall (bound_range), so the gap between them, the KL, shows; right: the KL term, with the
    weight β each step gave it on a second axis (a linear warm-up shows as a ramp). Train values are
    per optimiser step (binned on long runs), test values once per epoch (markers); x is in epochs.

    This figure is rebuilt on every poll while a model trains, on the server thread that shares the
    interpreter with the training, so it is assembled from plain dicts on a layout validated once
    (cheaper than building it through Plotly's validators; BENCHMARKS.md). Two panels, not four: the
    browser lays it out again on every poll, and that cost grows with the number of panels.

    iwae_k: the train line is the bound the run optimises, Terms.bound, named by objectives.bound_name:
    for k > 1 the IWAE bound, which can lie above its reconstruction term; the test line is always the ELBO.

    autoencoder: one panel with the reconstruction term alone; an AE or DAE has no KL, no β and no ELBO."""
    if autoencoder:
        return _autoencoder_figure(snap, height)
    layout = copy.deepcopy(_curves_layout(height, iwae_k))
    layout["yaxis"]["title"]["text"] = _y_title(snap)
    layout["yaxis3"]["range"] = [0, max([1.0] + snap.steps["beta"]) * 1.1]
    zoom = bound_range(snap)
    if zoom is not None:
        layout["yaxis"]["range"], layout["yaxis"]["autorange"] = zoom, False
    test_x = [e["epoch"] for e in snap.epochs]
    data = []
    for key, test, axes in (("bound", "elbo", ("x", "y")), ("recon", "recon", ("x", "y")), ("kl", "kl", ("x2", "y2"))):
        name, light, dark = SERIES[key]
        train_name = bound_name(iwae_k) if key == "bound" else name  # Terms.bound; the test line is the ELBO
        data.append(dict(type="scatter", x=snap.steps["epoch"], y=snap.steps[key], mode="lines",
                         name=f"{train_name} · train", line=dict(color=light, width=1.2), xaxis=axes[0], yaxis=axes[1]))
        data.append(dict(type="scatter", x=test_x, y=[e.get(f"test_{test}") for e in snap.epochs],
                         mode="lines+markers", name=f"{name} · test", line=dict(color=dark, width=2),
                         marker=dict(size=7), xaxis=axes[0], yaxis=axes[1]))
    data.append(dict(type="scatter", x=snap.steps["epoch"], y=snap.steps["beta"], mode="lines",
                     name="β (right axis)", line=dict(color="#444444", width=1.5, dash="dot"), xaxis="x2",
                     yaxis="y3"))
    return go.Figure(data=data, layout=layout, _validate=False)


def bound_range(snap: JobSnapshot, settle: float = 0.25) -> list[float] | None:
    """The left panel's y range: the train values after the first epoch (or the first quarter of a shorter
    run) and every test value, padded by 5%. The first steps fall from about -550 to -150 nats on MNIST, and
    an axis that holds them squeezes the gap between the ELBO and its reconstruction term (the KL, a few
    nats) to a line's width; Plotly's autoscale button still shows them. None (autorange) before any
    value is past that point."""
    x = snap.steps["epoch"]
    cut = min(1.0, settle * max(x, default=0.0))
    ys = [y for key in ("bound", "recon") for e, y in zip(x, snap.steps[key]) if e >= cut and y is not None]
    ys += [r[k] for r in snap.epochs for k in ("test_elbo", "test_recon") if r.get(k) is not None]
    ys = [y for y in ys if math.isfinite(y)]
    if len(ys) < 2:
        return None
    lo, hi = min(ys), max(ys)
    pad = max(0.05 * (hi - lo), 0.5)
    return [lo - pad, hi + pad]


def _autoencoder_figure(snap: JobSnapshot, height: int) -> go.Figure:
    name, light, dark = SERIES["recon"]
    data = [dict(type="scatter", x=snap.steps["epoch"], y=snap.steps["recon"], mode="lines", name=f"{name} · train",
                 line=dict(color=light, width=1.2)),
            dict(type="scatter", x=[e["epoch"] for e in snap.epochs], y=[e.get("test_recon") for e in snap.epochs],
                 mode="lines+markers", name=f"{name} · test", line=dict(color=dark, width=2), marker=dict(size=7))]
    layout = copy.deepcopy(_autoencoder_layout(height))
    layout["yaxis"]["title"]["text"] = _y_title(snap)
    return go.Figure(data=data, layout=layout, _validate=False)


def _y_title(snap: JobSnapshot) -> str:
    """The left axis's unit: nats per image, and which (explorer.data.units: binarized, 8-bit, grey density...)."""
    return f"nats per image, {snap.unit}" if snap.unit else "nats per image"


@functools.lru_cache(maxsize=4)
def _autoencoder_layout(height: int) -> dict:
    fig = go.Figure()
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), uirevision="curves",
                      title="Reconstruction term log p(x | z = encoder(x)); an AE has no KL and no ELBO",
                      xaxis_title="epoch", yaxis_title="nats per image",
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return fig.to_dict()["layout"]


@functools.lru_cache(maxsize=8)
def _curves_layout(height: int, iwae_k: int) -> dict:
    """The two panels' layout, built (and validated) once: yaxis3 is the right panel's β axis. The left
    title names the train line's bound; the test line is the ELBO whatever the run trains on."""
    bound = bound_name(iwae_k)
    left = f"{bound} = E[log p(x|z)] − KL" if bound == "ELBO" else f"train: {bound}; test: ELBO"
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, specs=[[{}, {"secondary_y": True}]],
                        subplot_titles=[f"{left} (nats per image)", "KL(q(z|x) ‖ p(z)) and its weight β"])
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="nats per image", row=1, col=1)
    fig.update_yaxes(title_text="KL (nats per image)", row=1, col=2, secondary_y=False)
    # tickmode "auto": an overlaying axis defaults to "sync" in Plotly.js, which put β's ticks on the KL
    # grid lines, at values like 0.063, 0.434, 0.805 for a β that is 1 throughout
    fig.update_yaxes(title_text="β", showgrid=False, tickmode="auto", nticks=6, row=1, col=2, secondary_y=True)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), uirevision="curves",
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    layout = fig.to_dict()["layout"]
    assert layout["yaxis3"]["overlaying"] == "y2"  # the secondary axis make_subplots made
    return layout


def kl_dims_figure(snap: JobSnapshot, height: int = 260) -> go.Figure:
    """KL of each latent dimension (nats); a dimension that is not alive (mean KL at most ALIVE_KL, see
    evaluation.latent_use) carries almost no information about x (it has collapsed to the prior), so it is
    drawn grey."""
    kl = snap.kl_per_dim
    source = "test set" if snap.epochs else "training batch"
    colors = [PALETTE[0] if a else "#BBBBBB" for a in alive(kl)]
    fig = go.Figure(go.Bar(x=[f"z{i + 1}" for i in range(len(kl))], y=kl, marker_color=colors,
                           hovertemplate="%{x}: %{y:.3f} nats<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), uirevision="kl_dims",
                      title=f"KL per latent dimension ({source}): {snap.alive_dims} of {len(kl)} alive",
                      yaxis_title="nats per image")
    return fig
