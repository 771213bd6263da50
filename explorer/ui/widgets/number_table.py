"""A small table of numbers as Markdown. st.dataframe draws a few numbers with a whole data grid whose code
(about 1.3 MB compressed: the grid, Arrow, a JSON viewer) each browser fetches and compiles first; the chosen
point's 2 x 2 posterior table was the only reason the map page loaded it (benchmarks/map_open.py)."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

DIGITS = 4  # as st.dataframe shows floats
ACROSS_MAX = 8  # latent dimensions shown across; more go down a scrolling box
TALL_PX = 320  # that box: about seven rows


def markdown(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]]) -> str:
    """A Markdown table: one row per name in rows, its values under columns. The names are the app's own
    words (never text from a file)."""
    head = "| | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns) + "\n"
    return head + "\n".join(f"| **{r}** | " + " | ".join(f"{float(v):.{DIGITS}f}" for v in vs) + " |"
                            for r, vs in zip(rows, values))


def number_table(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]],
                 height: int | None = None) -> None:
    """The table in the page; height (px): a scrolling box, for a long one."""
    box = st.container(height=height) if height else st.container()
    box.markdown(markdown(rows, columns, values))


def per_dimension(names: Sequence[str], values: Sequence[Sequence[float]]) -> None:
    """Rows called names, each one value per latent dimension (z1, z2, ...): across for a few dimensions, down
    a scrolling box for many."""
    dims = [f"z{d + 1}" for d in range(len(values[0]))]
    if len(dims) <= ACROSS_MAX:
        number_table(names, dims, values)
    else:
        number_table(dims, names, list(zip(*values)), height=TALL_PX)
