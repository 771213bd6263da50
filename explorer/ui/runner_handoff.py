"""A fragment's rerun waits for the previous run's last messages (the white page after Start).

The cause, found with the class run (benchmarks/class_starts.py) and the server's debug log: when a
fragment's timer (`run_every`) asks for a rerun just after a script run ends, Streamlit's AppSession finds
that run's ScriptRunner stopped and starts a new one at once (AppSession.request_rerun ->
_create_scriptrunner). The stopped runner's last events, still queued on the event loop, then come from a
"non-current ScriptRunner" and are dropped: the end of the run's deltas and its script_finished never
reach the page. The page keeps the old tree where the run had drawn the new one (the Train form's blocks
where the Stop button's columns and the live panels were to go), and the fragment's own deltas land under
a node of the wrong kind: "'setIn' cannot be called on an ElementNode", "Bad delta path index", or
"undefined is not iterable", and Streamlit's frontend draws nothing more. Every run of the class test had
such dropped deltas (5 to 18); whether a page went white depended on which ones.

The fix: a fragment's rerun that would replace a runner whose events are still in flight waits (a few
milliseconds, polling the event loop) until that runner's SHUTDOWN event has been handled, which Streamlit
does after all of the runner's other events, since they reach the loop in order. A full rerun is left
alone: it replaces everything the page shows, so the old run's tail does not matter.
"""
from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

POLL_S = 0.005
WAIT_S = 10.0  # never hold a rerun longer than this (a runner that never reports its end)
_PATCHED = "_vaex_handoff_patched"


def install() -> bool:
    """Patch AppSession._create_scriptrunner once per process; False when this Streamlit lacks what it
    patches (then nothing changes and the log says so)."""
    from streamlit.runtime.app_session import AppSession

    original = getattr(AppSession, "_create_scriptrunner", None)
    if original is None or not hasattr(AppSession, "request_rerun"):
        log.warning("this Streamlit has no AppSession._create_scriptrunner: fragment reruns are not held back")
        return False
    if getattr(original, _PATCHED, False):
        return True

    def create_scriptrunner(self: Any, initial_rerun_data: Any) -> None:
        if getattr(self, "_scriptrunner", None) is None or not is_fragment_rerun(initial_rerun_data):
            return original(self, initial_rerun_data)
        hand_over(self, initial_rerun_data, time.monotonic() + WAIT_S, original)

    setattr(create_scriptrunner, _PATCHED, True)
    AppSession._create_scriptrunner = create_scriptrunner
    return True


def is_fragment_rerun(rerun_data: Any) -> bool:
    return bool(getattr(rerun_data, "fragment_id", None) or getattr(rerun_data, "fragment_id_queue", None))


def hand_over(session: Any, rerun_data: Any, deadline: float, create: Any) -> None:
    """On the session's event loop: give the rerun to the session's runner if it takes it; while a stopped
    runner's events are still in flight (its SHUTDOWN not yet handled), wait; with none left, start one."""
    if str(getattr(session, "_state", "")).endswith("SHUTDOWN_REQUESTED"):
        return  # the browser has gone meanwhile
    current = getattr(session, "_scriptrunner", None)
    if current is not None:
        if current.request_rerun(rerun_data):
            return  # a run that started meanwhile (a full rerun) takes it
        if time.monotonic() < deadline:
            session._event_loop.call_later(POLL_S, hand_over, session, rerun_data, deadline, create)
            return
        log.warning("a ScriptRunner did not report its end within %.0f s; starting the fragment's rerun", WAIT_S)
    create(session, rerun_data)
