"""A component's callback, once per browser message. Streamlit calls a component's callback once per event the
message carries, and a callback that reads the component's value reads every event in it: a forged message of N
map clicks cost N^2 (20,000 held the server for 59 s, issue 25). The first call reads the value, whose latest
event wins; the others in the same message return at once."""
from __future__ import annotations

from typing import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_SEEN = "_once_per_message"  # (this run's marker, names already called in it)


def _run_marker() -> object | None:
    """An object Streamlit makes anew for each run, before the run's callbacks: its element cursors."""
    ctx = get_script_run_ctx()
    return getattr(ctx, "cursors", None) if ctx is not None else None


def once_per_message(name: str, callback: Callable[[], None]) -> Callable[[], None]:
    """callback, called at most once per run's callbacks under this name. The marker is held, not its id, so a
    new run's marker can never be mistaken for the old one."""
    def wrapped() -> None:
        marker = _run_marker()
        if marker is None:  # no run to group calls by (a bare call): nothing to save
            callback()
            return
        seen = st.session_state.get(_SEEN)
        if seen is None or seen[0] is not marker:
            seen = (marker, set())
            st.session_state[_SEEN] = seen
        if name in seen[1]:
            return
        seen[1].add(name)
        callback()

    return wrapped
