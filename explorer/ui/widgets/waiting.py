"""A progress bar for work shared by every session (explorer.jobs.shared_work): what it is doing, how far, and
for how long; drawn only while someone waits, and gone when the work is done."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import streamlit as st


@contextmanager
def progress_bar() -> Iterator[Callable[[float, str, float], None]]:
    """A SharedWork.get wait callback drawing st.progress where it is first called; removed on exit."""
    holder = None

    def show(fraction: float, text: str, seconds: float) -> None:
        nonlocal holder
        if holder is None:
            holder = st.empty()
        holder.progress(min(max(fraction, 0.0), 1.0), text=f"{text} · {seconds:.0f} s so far")

    try:
        yield show
    finally:
        if holder is not None:
            holder.empty()
