"""The checks a page makes before it draws: a message saying what is missing, and the page stops."""
from __future__ import annotations

import streamlit as st

from explorer.data import ImageDataset
from explorer.ui.state import caches, selection
from explorer.ui.state.current_model import Current
from explorer.ui.widgets.plain_text import plain

TRAIN_PAGE = "explorer/ui/pages/train.py"


def require_model() -> Current:
    """The model chosen in the sidebar, or a message saying how to get one (and the page stops)."""
    cur = selection.current()
    if cur is None:
        st.info("No model is loaded. Choose or upload a checkpoint in the sidebar, or train one on the "
                "Train page.")
        st.page_link(TRAIN_PAGE, label="Train a model", icon=":material/fitness_center:")
        st.stop()
    return cur


def require_data(cur: Current) -> ImageDataset:
    """The model's test set, or why it is not here (and the page stops)."""
    data, why = caches.test_data(cur.model)
    if data is None:
        st.warning(f"{plain(why)} This page needs the model's test images; the Decoder sliders page works "
                   "without them.")
        st.stop()
    return data
