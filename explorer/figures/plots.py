"""Figures for the explorer: Plotly figure builders and a PIL scatter for offline PNG export.

They return figures or bytes; they never call Streamlit or write files.
"""
from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

# Plotly's default qualitative palette, shared with the PNG export so both show the same colours.
PALETTE = ["#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A",
           "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52"]


def label_color(i: int) -> str:
    return PALETTE[int(i) % len(PALETTE)]


def latent_scatter(coords: np.ndarray, labels: np.ndarray | None, classes: list[str] | None = None, *,
                   index: np.ndarray | None = None, axis_titles: tuple[str, str] = ("z1", "z2"),
                   title: str | None = None, height: int = 560, marker_size: int = 4,
                   ui_revision: str | None = None) -> go.Figure:
    """Points on the latent map, one WebGL trace per label (Scattergl keeps 10,000 points smooth).

    Each point carries its data-set index as customdata, so a click can be traced back to an image.
    """
    coords = np.asarray(coords, dtype=np.float64)
    n = len(coords)
    index = np.arange(n) if index is None else np.asarray(index)
    labels = np.zeros(n, dtype=int) if labels is None else np.asarray(labels)
    fig = go.Figure()
    for lab in np.unique(labels):
        m = labels == lab
        name = classes[int(lab)] if classes and int(lab) < len(classes) else str(lab)
        fig.add_trace(go.Scattergl(
            x=np.round(coords[m, 0], 4), y=np.round(coords[m, 1], 4), mode="markers", name=name,
            customdata=index[m], marker=dict(size=marker_size, color=label_color(lab), opacity=0.7),
            hovertemplate=f"label {name}<br>index %{{customdata}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=title,  # t: room for the toolbar
                      xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], legend_title_text="label",
                      legend=dict(itemsizing="constant"),
                      uirevision=ui_revision)  # keeps the user's zoom across reruns of the same map
    return fig


def latent_scatter_3d(coords: np.ndarray, labels: np.ndarray | None, classes: list[str] | None = None, *,
                      axis_titles: tuple[str, str, str] = ("PC 1", "PC 2", "PC 3"), height: int = 520,
                      selected: np.ndarray | None = None, ui_revision: str | None = None) -> go.Figure:
    """Points in 3-D, one WebGL Scatter3d trace per label; the chosen point (if any) as a black diamond."""
    coords = np.asarray(coords, dtype=np.float64)
    labels = np.zeros(len(coords), dtype=int) if labels is None else np.asarray(labels)
    fig = go.Figure()
    for lab in np.unique(labels):
        m = labels == lab
        name = classes[int(lab)] if classes and int(lab) < len(classes) else str(lab)
        c = np.round(coords[m], 4)
        fig.add_trace(go.Scatter3d(x=c[:, 0], y=c[:, 1], z=c[:, 2], mode="markers", name=name,
                                   customdata=np.flatnonzero(m),
                                   marker=dict(size=2, color=label_color(lab), opacity=0.7),
                                   hovertemplate=f"label {name}<br>index %{{customdata}}<extra></extra>"))
    if selected is not None:
        fig.add_trace(go.Scatter3d(x=[selected[0]], y=[selected[1]], z=[selected[2]], mode="markers", name="chosen",
                                   marker=dict(size=7, color="black", symbol="diamond"), hoverinfo="skip"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0), legend=dict(itemsizing="constant"),
                      scene=dict(xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], zaxis_title=axis_titles[2]),
                      uirevision=ui_revision)  # the camera stays where the user turned it across reruns
    return fig


def ellipse_xy(center: np.ndarray, cov: np.ndarray, nsig: float = 1.0, n: int = 72) -> np.ndarray:
    """Points on the nsig-standard-deviation contour of a 2-D Gaussian: (n, 2)."""
    vals, vecs = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    t = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.asarray(center, dtype=np.float64) + nsig * (circle * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


# Marks drawn over the map are WebGL traces too: Plotly draws its WebGL layer above SVG traces, so an SVG
# star or path would vanish under dense points.
def add_selection(fig: go.Figure, xy: np.ndarray, cov: np.ndarray | None = None,
                  name: str = "selected") -> go.Figure:
    """Mark a chosen point; with a 2x2 covariance, its posterior's 1- and 2-sigma ellipses."""
    if cov is not None and np.any(np.asarray(cov) > 0):
        for k, dash in ((1, "solid"), (2, "dot")):
            e = ellipse_xy(xy, cov, k)
            fig.add_trace(go.Scattergl(x=e[:, 0], y=e[:, 1], mode="lines", name=f"q(z|x) {k}σ",
                                     line=dict(color="black", width=1.5, dash=dash), hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=[xy[0]], y=[xy[1]], mode="markers", name=name, hoverinfo="skip",
                             marker=dict(symbol="star", size=16, color="black", line=dict(color="white", width=1))))
    return fig


def add_path(fig: go.Figure, xy: np.ndarray, name: str, color: str, dash: str = "solid") -> go.Figure:
    """An interpolation path drawn over the map, its ends marked A and B."""
    fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=name,
                             line=dict(color=color, width=2.5, dash=dash), marker=dict(size=6, color=color)))
    return fig


def add_endpoints(fig: go.Figure, a: np.ndarray, b: np.ndarray) -> go.Figure:
    fig.add_trace(go.Scattergl(x=[a[0], b[0]], y=[a[1], b[1]], mode="markers+text", text=["A", "B"],
                             textposition="top center", name="A, B", textfont=dict(size=16, color="black"),
                             marker=dict(size=14, color="black", symbol="diamond")))
    return fig


def line_figure(x: np.ndarray, series: dict[str, np.ndarray], *, x_title: str, y_title: str,
                title: str | None = None, height: int = 320, colors: list[str] | None = None) -> go.Figure:
    """A few named lines over a shared x axis."""
    fig = go.Figure()
    for i, (name, y) in enumerate(series.items()):
        color = colors[i] if colors else PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, line=dict(color=color)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title,
                      xaxis_title=x_title, yaxis_title=y_title)
    return fig


def bar_figure(labels: list[str], values: np.ndarray, *, y_title: str, title: str | None = None,
               height: int = 260) -> go.Figure:
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=PALETTE[0]))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title,
                      yaxis_title=y_title)
    return fig


def scatter_png(coords: np.ndarray, labels: np.ndarray | None, classes: list[str] | None = None,
                size: int = 900, point: int = 2, title: str | None = None) -> bytes:
    """The latent map as a PNG drawn with PIL, so export works offline without kaleido or a browser."""
    coords = np.asarray(coords, dtype=np.float64)
    labels = np.zeros(len(coords), dtype=int) if labels is None else np.asarray(labels)
    legend_w, top, pad = 110, 34 if title else 10, 20
    font = _font(15)
    img = Image.new("RGB", (size + legend_w, size + top), "white")
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((pad, 8), title, fill="black", font=font)
    if len(coords):
        lo, hi = coords.min(0), coords.max(0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        xy = pad + (coords - lo) / span * (size - 2 * pad)
        xy[:, 1] = size - xy[:, 1] + top  # y grows upwards on a map, downwards in an image
        for (x, y), lab in zip(xy, labels):
            draw.ellipse((x - point, y - point, x + point, y + point), fill=label_color(lab))
    draw.rectangle((pad - 2, top + pad - 2, size - pad + 2, top + size - pad + 2), outline="#999999")
    for row, lab in enumerate(np.unique(labels)):
        name = classes[int(lab)] if classes and int(lab) < len(classes) else str(lab)
        y = top + pad + 22 * row
        draw.ellipse((size + 8, y + 2, size + 20, y + 14), fill=label_color(lab))
        draw.text((size + 26, y), name, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def labelled_rows_png(rows: np.ndarray, labels: list[str], col_labels: list[str] | None = None,
                      scale: int = 2, pad: int = 2) -> bytes:
    """Image rows (R, V, H, W) or (R, V, H, W, 3) uint8 as one PNG with a text label before each row and
    optional labels above the columns (a traversal grid: one row per latent direction)."""
    rows = np.asarray(rows)
    R, V, h, w = rows.shape[:4]
    h, w = h * scale, w * scale
    font = _font(13)
    left = 12 + max((int(_text_width(font, s)) for s in labels), default=0)
    top = 20 if col_labels else pad
    img = Image.new("RGB", (left + V * (w + pad) + pad, top + R * (h + pad) + pad), "white")
    draw = ImageDraw.Draw(img)
    for c, text in enumerate(col_labels or []):
        draw.text((left + c * (w + pad) + pad + 2, 3), text, fill="black", font=font)
    for r in range(R):
        y = top + r * (h + pad) + pad
        draw.text((6, y + h // 2 - 7), labels[r], fill="black", font=font)
        for c in range(V):
            tile = Image.fromarray(rows[r, c]).convert("RGB").resize((w, h), Image.NEAREST)
            img.paste(tile, (left + c * (w + pad) + pad, y))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font at a readable size (no system fonts needed, so it works anywhere)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _text_width(font: ImageFont.ImageFont, text: str) -> float:
    return font.getlength(text) if hasattr(font, "getlength") else 7 * len(text)
