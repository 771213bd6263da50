"""A Train form edit whose rerun is still waiting when a page link is clicked reaches the next run
(explorer/ui/state/edit_handoff.py): Streamlit folds the two requests into one and kept only the page switch's
widget values, which never include the old page's widgets."""
from __future__ import annotations

from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.runtime.scriptrunner_utils import script_requests
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from explorer.ui.state import edit_handoff

LATENT, PAD = "$$ID-latent-train_latent", "$$ID-pad-draw_pad"


def states(**values) -> WidgetStates:
    out = WidgetStates()
    for wid, value in values.items():
        w = out.widgets.add()
        w.id = {"latent": LATENT, "pad": PAD, "seed": "$$ID-seed-train_seed"}[wid]
        if isinstance(value, bool):
            w.trigger_value = value
        else:
            w.int_value = value
    return out


def folded(first: WidgetStates, then: WidgetStates) -> dict:
    requests = ScriptRequests()
    requests.on_scriptrunner_yield()  # a run is under way: the next requests wait, and are folded
    assert requests.request_rerun(RerunData(widget_states=first, fragment_id="the form's fragment"))
    assert requests.request_rerun(RerunData(widget_states=then, page_script_hash="decoder"))
    data = requests.on_scriptrunner_yield().rerun_data
    return {w.id: getattr(w, w.WhichOneof("value")) for w in data.widget_states.widgets}


def streamlits_own(monkeypatch) -> None:
    """The fold as Streamlit ships it (an app test in this process may have installed the patch already)."""
    fold = script_requests._coalesce_widget_states
    monkeypatch.setattr(script_requests, "_coalesce_widget_states", getattr(fold, "__wrapped__", fold))


def test_the_edit_survives_the_page_switch_that_overtook_it(monkeypatch) -> None:
    streamlits_own(monkeypatch)
    assert LATENT not in folded(states(latent=3), states(seed=1))  # Streamlit's own fold drops it
    assert edit_handoff.install()
    assert folded(states(latent=3), states(seed=1)) == {LATENT: 3, "$$ID-seed-train_seed": 1}


def test_a_newer_value_wins_and_triggers_stay_streamlits(monkeypatch) -> None:
    streamlits_own(monkeypatch)
    assert edit_handoff.install() and edit_handoff.install()  # once: a second install changes nothing
    assert folded(states(latent=3), states(latent=5)) == {LATENT: 5}
    assert folded(states(latent=3, pad=True), states(seed=1))[PAD] is True  # an unread click: Streamlit keeps it
