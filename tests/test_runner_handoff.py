"""A fragment's rerun that would replace a stopped ScriptRunner whose events are still in flight waits for that
runner's end (explorer/ui/runner_handoff.py), so the page gets the last run's deltas (the white page after Start)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

from explorer.ui import runner_handoff


class StoppedRunner:
    """A ScriptRunner whose run has ended: it takes no more reruns."""

    def request_rerun(self, data) -> bool:
        return False


def session_with(runner, loop) -> SimpleNamespace:
    return SimpleNamespace(_scriptrunner=runner, _event_loop=loop, _state="AppSessionState.APP_NOT_RUNNING")


def test_a_fragment_rerun_waits_until_the_stopped_runner_has_reported_its_end():
    loop = asyncio.new_event_loop()
    old, created = StoppedRunner(), []
    session = session_with(old, loop)

    def create(s, data):
        created.append((s._scriptrunner, data))  # which runner was current when the new one was made
        s._scriptrunner = "new runner"

    data = RerunData(fragment_id="frag")
    runner_handoff.hand_over(session, data, deadline=float("inf"), create=create)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert created == [], "a new runner started while the old one's events were still in flight"
    session._scriptrunner = None  # the old runner's SHUTDOWN is handled: all its messages went out
    loop.run_until_complete(asyncio.sleep(0.05))
    assert created == [(None, data)]
    loop.close()


def test_a_run_started_meanwhile_takes_the_fragment_rerun():
    loop = asyncio.new_event_loop()
    taken = []
    session = session_with(StoppedRunner(), loop)
    runner_handoff.hand_over(session, RerunData(fragment_id="frag"), float("inf"), create=lambda s, d: taken.append("created"))
    session._scriptrunner = SimpleNamespace(request_rerun=lambda d: taken.append("queued") or True)  # a full rerun began
    loop.run_until_complete(asyncio.sleep(0.05))
    assert taken == ["queued"]
    loop.close()


def test_a_closed_session_drops_the_rerun_and_a_stuck_runner_is_not_waited_for_forever():
    loop = asyncio.new_event_loop()
    created = []
    closed = session_with(StoppedRunner(), loop)
    closed._state = "AppSessionState.SHUTDOWN_REQUESTED"
    runner_handoff.hand_over(closed, RerunData(fragment_id="f"), float("inf"), create=lambda s, d: created.append(1))
    stuck = session_with(StoppedRunner(), loop)
    runner_handoff.hand_over(stuck, RerunData(fragment_id="f"), deadline=0.0, create=lambda s, d: created.append(2))
    loop.run_until_complete(asyncio.sleep(0.02))
    assert created == [2]
    loop.close()


def test_the_patch_holds_back_fragment_reruns_only():
    assert runner_handoff.install() and runner_handoff.install()  # once per process, idempotent
    assert getattr(AppSession._create_scriptrunner, runner_handoff._PATCHED)
    assert runner_handoff.is_fragment_rerun(RerunData(fragment_id="f"))
    assert runner_handoff.is_fragment_rerun(RerunData(fragment_id_queue=["f"]))
    assert not runner_handoff.is_fragment_rerun(RerunData())  # a full rerun redraws everything: never held
