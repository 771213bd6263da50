"""The maths page's k plot: each log p(x) estimator's curve for one run, its band over repeated runs, and
the ELBO, with the y axis on the importance-sampled estimate (the naive one starts hundreds of nats below
it and would flatten it)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..evaluation import Bands
from .plots import PALETTE


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def y_range(focus: Bands, *levels: float) -> tuple[float, float]:
    """The importance-sampled band and the given levels (ELBO, log p(x)), with a margin."""
    lo = min(float(np.min(focus.low)), *levels)
    hi = max(float(np.max(focus.high)), *levels)
    pad = 0.15 * (hi - lo) + 0.5
    return lo - pad, hi + pad


def estimates_figure(curves: dict[str, np.ndarray], bands: dict[str, Bands], elbo: float, focus: str,
                     height: int = 380) -> tuple[go.Figure, str | None]:
    """The figure and, when part of a band lies below the axis, a sentence that says where it is."""
    fig = go.Figure()
    for i, (name, y) in enumerate(curves.items()):
        b, color = bands[name], PALETTE[i % len(PALETTE)]
        q0, q1 = (round(100 * q) for q in b.quantiles)
        fig.add_trace(go.Scatter(x=b.ks + b.ks[::-1], y=np.r_[b.high, b.low[::-1]], fill="toself",
                                 fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
                                 name=f"{name}: {q0}-{q1}% of {b.runs} runs"))
        fig.add_trace(go.Scatter(x=b.ks, y=y, mode="lines+markers", name=f"{name}: this run", line=dict(color=color)))
    fig.add_hline(y=elbo, line_dash="dot", annotation_text="ELBO")
    lo, hi = y_range(bands[focus], elbo)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), yaxis_range=[lo, hi],
                      title="The estimates as k grows: one run, and the spread over repeated runs",
                      xaxis_title="k (log scale)", yaxis_title="estimate of log p(x) (nats per image)")
    fig.update_xaxes(type="log")
    below = []
    for name, b in bands.items():
        under = [k for k, v in zip(b.ks, b.median) if v < lo]
        if under:
            below.append(f"the median run of {name} is below the plot up to k = {under[-1]:,} "
                         f"({b.median[0]:.0f} nats at k = 1)")
    return fig, ("; ".join(below) + ".") if below else None


def gap_text(value: float, se: float) -> tuple[str, str | None]:
    """A gap's value, and for a negative one, what it means: a true gap is >= 0, so below 0 is Monte Carlo
    noise (within 2 standard errors) or a log p(x) estimate that is too low at this k."""
    shown = f"{value:.2f} ± {se:.2f}" if np.isfinite(se) else f"{value:.2f}"
    if value >= 0:
        return shown, None
    if not np.isfinite(se) or se <= 0:
        return shown, "Below 0: a gap is never negative, so this is Monte Carlo noise; raise k."
    z = -value / se
    if z <= 2:
        return shown, f"Below 0 by {z:.1f} standard errors: Monte Carlo noise (a gap is never negative)."
    return shown, (f"Below 0 by {z:.1f} standard errors: more than noise explains, so log p(x) is underestimated "
                   "at this k; raise k.")
