"""An edit followed at once by a click on another page is not lost.

Streamlit folds a rerun request that arrives while another is still waiting to start into one, and keeps only the
newer request's widget values (scriptrunner_utils.script_requests._coalesce_widget_states). A page switch sends
only the values of widgets on the new page. So a Train form edit committed on blur, by the very click on a page
link in the sidebar (its rerun still waiting behind the last one), reached no run at all: the form came back with
the old value (2 runs in 25 of a loop of the settings test's steps). The fold here also keeps an older
request's values of widgets the newer one does not mention; a value the newer one sends still wins.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_PATCHED = "_vaex_keeps_unsent"
_TRIGGERS = ("trigger_value", "string_trigger_value", "chat_input_value", "json_trigger_value")


def keep_unsent(merged: Any, old: Any) -> Any:
    """merged (Streamlit's fold of old into the newer request) with old's plain values of the widgets that merged
    lacks; triggers are Streamlit's to keep or drop."""
    if not old or merged is None or merged is old:
        return merged
    have = {w.id for w in merged.widgets}
    for w in old.widgets:
        if w.id not in have and w.WhichOneof("value") not in _TRIGGERS:
            merged.widgets.add().CopyFrom(w)
    return merged


def install() -> bool:
    """Patch the fold once per process; False when this Streamlit lacks it (then nothing changes; the log says)."""
    try:
        from streamlit.runtime.scriptrunner_utils import script_requests
    except ImportError:
        script_requests = None
    original = getattr(script_requests, "_coalesce_widget_states", None)
    if original is None:
        log.warning("this Streamlit has no _coalesce_widget_states: an edit overtaken by a page switch can be lost")
        return False
    if getattr(original, _PATCHED, False):
        return True

    def coalesce(old_states: Any, new_states: Any) -> Any:
        return keep_unsent(original(old_states, new_states), old_states)

    setattr(coalesce, _PATCHED, True)
    coalesce.__wrapped__ = original  # Streamlit's own, for a test to compare
    script_requests._coalesce_widget_states = coalesce
    return True
