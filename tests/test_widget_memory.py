"""Widget values kept across pages (explorer/ui/state/widget_memory.py): a widget drawn with key=widget_memory.key(...)
keeps its value through runs that do not draw it (another page), with no list of keys to update; one drawn
without it does not."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from explorer.ui.state import widget_memory

    widget_memory.keep_widget_values()  # as streamlit_app.py does before every page
    if st.session_state.get("page", "a") == "a":
        st.number_input("kept", 0, 100, 5, key=widget_memory.key("a_new_widget"))
        st.number_input("not kept", 0, 100, 5, key="a_plain_widget")


def test_a_registered_widget_keeps_its_value_through_a_page_that_does_not_draw_it() -> None:
    at = AppTest.from_function(_script).run()
    at.number_input(key="a_new_widget").set_value(42)
    at.number_input(key="a_plain_widget").set_value(42)
    at.run()
    at.session_state["page"] = "b"  # another page: neither widget is drawn
    at.run()
    at.session_state["page"] = "a"
    at.run()
    assert not at.exception
    assert at.number_input(key="a_new_widget").value == 42
    assert at.number_input(key="a_plain_widget").value == 5  # Streamlit's own clean-up, which widget_memory.key stops
