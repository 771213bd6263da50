"""One legend of label colours for several maps drawn side by side, so each map can give its whole width
to its points (Plotly's legend is per figure, and five maps would repeat it five times)."""
from __future__ import annotations

import html

import numpy as np
import streamlit as st

from explorer.figures.plots import label_color


def chips(labels: np.ndarray, classes: list[str] | None = None) -> str:
    """HTML: one chip per label present, in its map colour (plots.label_color), named by its class. Class
    names come from a data folder's names, so they are escaped."""
    out = []
    for lab in np.unique(np.asarray(labels)):
        name = classes[int(lab)] if classes and int(lab) < len(classes) else str(lab)
        out.append(f'<span style="background:{label_color(lab)};color:white;border-radius:10px;'
                   f'padding:1px 8px;margin-right:4px;font-size:0.85em">{html.escape(name)}</span>')
    return "".join(out)


def label_legend(labels: np.ndarray | None, classes: list[str] | None = None, caption: str = "label") -> None:
    """Draw the chips on one line above the maps; nothing for unlabelled data."""
    if labels is not None and len(labels):
        st.markdown(f'<div class="vx-label-legend">{html.escape(caption)}: {chips(labels, classes)}</div>',
                    unsafe_allow_html=True)
