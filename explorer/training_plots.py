"""Figures of a training run from a jobs.JobSnapshot: the ELBO and its two terms, beta, and the KL
of each latent dimension. They return Plotly figures; they never call Streamlit or write files."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .jobs import ALIVE_KL, JobSnapshot
from .plots import PALETTE

TRAIN, TEST = PALETTE[0], PALETTE[1]
TERMS = (("elbo", "ELBO"), ("recon", "reconstruction E[log p(x|z)]"), ("kl", "KL(q(z|x) ‖ p(z))"))


def terms_figure(snap: JobSnapshot, height: int = 330) -> go.Figure:
    """The ELBO = reconstruction - KL, side by side, in nats per example: train per optimiser step
    (a line, binned on long runs) and test once per epoch (markers), over epochs."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in TERMS], horizontal_spacing=0.07)
    test_x = [e["epoch"] for e in snap.epochs]
    for col, (key, _) in enumerate(TERMS, start=1):
        first = col == 1  # one legend entry per series, not per panel
        fig.add_trace(go.Scatter(x=snap.steps["epoch"], y=snap.steps[key], mode="lines", name="train (per step)",
                                 legendgroup="train", showlegend=first, line=dict(color=TRAIN, width=1.2)),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=test_x, y=[e.get(f"test_{key}") for e in snap.epochs], mode="lines+markers",
                                 name="test (per epoch)", legendgroup="test", showlegend=first,
                                 line=dict(color=TEST, width=2), marker=dict(size=7)), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(title_text="nats per example", row=1, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), uirevision="terms",
                      legend=dict(orientation="h", yanchor="bottom", y=-0.35, x=0))
    return fig


def beta_figure(snap: JobSnapshot, height: int = 240) -> go.Figure:
    """The KL weight the optimiser saw at each step (a linear warm-up shows as a ramp)."""
    fig = go.Figure(go.Scatter(x=snap.steps["epoch"], y=snap.steps["beta"], mode="lines", name="beta",
                               line=dict(color=PALETTE[2], width=2)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title="β (KL weight)",
                      xaxis_title="epoch", yaxis=dict(title="β", rangemode="tozero"), uirevision="beta")
    return fig


def kl_dims_figure(snap: JobSnapshot, height: int = 260) -> go.Figure:
    """KL of each latent dimension (nats); a dimension below ALIVE_KL carries almost no information
    about x (it has collapsed to the prior), so it is drawn grey."""
    kl = snap.kl_per_dim
    source = "test set" if snap.epochs else "training batch"
    colors = [PALETTE[0] if k > ALIVE_KL else "#BBBBBB" for k in kl]
    fig = go.Figure(go.Bar(x=[f"z{i + 1}" for i in range(len(kl))], y=kl, marker_color=colors,
                           hovertemplate="%{x}: %{y:.3f} nats<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), uirevision="kl_dims",
                      title=f"KL per latent dimension ({source}): {snap.alive_dims} of {len(kl)} alive",
                      yaxis_title="nats")
    return fig
