"""Widget values that survive a visit to another page. Streamlit forgets a widget's value when a run does
not draw it; assigning the value to itself each run keeps it (its docs' "interrupt the widget clean-up").

A widget asks for this by drawing with key=widget_memory.key("its_key"): the list of kept keys is whatever the
session's widgets registered, so a new widget cannot be left off a hand-written list."""
from __future__ import annotations

import streamlit as st

_REGISTERED = "_kept_keys"  # session_state: the keys drawn through key(), in drawing order
_SHADOW = "_kept_"  # prefix of the plain copies of their values


def key(name: str) -> str:
    """A widget key whose value is kept across pages; use it as the widget's key=."""
    registered = st.session_state.setdefault(_REGISTERED, {})  # a dict: ordered, no duplicates
    registered[name] = None
    return name


def registered(prefix: str = "") -> tuple[str, ...]:
    """The kept keys this session has drawn so far (those starting with prefix)."""
    return tuple(k for k in st.session_state.get(_REGISTERED, {}) if k.startswith(prefix))


def keep_widget_values() -> None:
    """Call once per run, before the page draws (streamlit_app.py does).

    A page switch can drop a widget's value before this run starts, so each kept value also lives under a
    plain key (remember()) and is put back from there when the widget's own key is gone."""
    for k in registered():
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]
        elif _SHADOW + k in st.session_state:
            st.session_state[k] = st.session_state[_SHADOW + k]
    remember()


def remember() -> None:
    """Copy the kept widgets' current values to their plain keys; call after drawing them, in a fragment too
    (a fragment's run changes a value without a full run)."""
    for k in registered():
        if k in st.session_state:
            st.session_state[_SHADOW + k] = st.session_state[k]


def clamp_index(name: str, n: int, default: int = 0) -> None:
    """Before a test-image index widget of n images is drawn: its kept value, or default, within 0..n-1 (a
    kept index of 5,000 from an MNIST model would be an error under a 359-image digits model)."""
    value = st.session_state.get(name, default)
    st.session_state[name] = min(max(int(value), 0), max(n - 1, 0))
