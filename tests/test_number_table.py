"""The Markdown table that replaced st.dataframe for a few numbers (explorer/ui/widgets/number_table.py)."""
from __future__ import annotations

from explorer.ui.widgets.number_table import markdown


def test_a_table_names_its_rows_and_columns_and_rounds_to_four_decimals() -> None:
    got = markdown(["posterior mean μ", "posterior std σ"], ["z1", "z2"], [[1.17764, -2.8], [0.07251, 1e-6]])
    assert got.splitlines() == ["| | z1 | z2 |", "|---|---:|---:|",
                                "| **posterior mean μ** | 1.1776 | -2.8000 |",
                                "| **posterior std σ** | 0.0725 | 0.0000 |"]
