"""What a session leaves behind is dropped when it ends (issue 25, item 5): its uploaded files, the uploaded
model it used once no other session uses it, and what the app derived from that model (the forget callbacks:
encodings, projections, the page's blobs). Streamlit keeps a closed tab's session for
server.disconnectedSessionTTL seconds (a reload resumes it) and, when that passes, drops it without shutting
it down, so the files of its uploaders stay in its file manager, and its state (the model it showed, the uploaded
file's bytes) until the server next stores a session: a reaper thread here does what a shutdown would have."""
from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from typing import Callable

import streamlit as st

from explorer.jobs.heap import freeing_tops, trim_heap
from explorer.jobs.session_owned import SessionOwned, SessionWatch

TTL_OPTION = "server.disconnectedSessionTTL"
_FORGET: dict[str, Callable[[str], None]] = {}
_log = logging.getLogger(__name__)


def on_forget(name: str, fn: Callable[[str], None]) -> None:
    """Call fn(model_key) when no session uses that uploaded model any more (name: one callback a cache)."""
    _FORGET[name] = fn


def forget(key: str) -> None:
    for name, fn in list(_FORGET.items()):
        try:
            fn(key)
        except Exception:  # one cache that cannot forget must not keep the others from it
            _log.exception("forgetting %s in %s", key, name)


def session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


class _Reaper:
    def __init__(self) -> None:
        self.uploads = SessionOwned(on_drop=forget)
        self.watch = SessionWatch()
        self.trims = 0
        self.apps: dict[str, weakref.ref] = {}  # session -> its AppSession, to clear its state when it ends

    def sweep(self) -> list[str]:
        """End the sessions that have ended; returns them."""
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return []
        rt = Runtime.instance()
        ended = self.watch.ended(rt.is_active_session, float(st.get_option(TTL_OPTION)))
        if ended:
            self.trims = 4  # and on the next sweeps: what a finishing script thread lets go of a moment later
        if not self.trims:
            return ended
        self.trims -= 1
        with freeing_tops():  # what is freed here leaves no free top in its arena (trim_heap cannot reach those)
            for sid in ended:
                self._end(rt, sid)
            if ended:
                rt.media_file_mgr.remove_orphaned_files()
            gc.collect()  # a model's modules refer to each other: free them now, not at some later collection
        trim_heap()
        return ended

    def _end(self, rt, sid: str) -> None:
        """What AppSession.shutdown would have done, and the session's uploaded model let go of."""
        rt.uploaded_file_mgr.remove_session_files(sid)
        rt.media_file_mgr.clear_session_refs(sid)
        app = self.apps.pop(sid, lambda: None)()
        if app is not None:  # past the TTL: Streamlit will not resume it, but may still hold it
            app.session_state.clear()
        self.uploads.end(sid)

    def run(self, every_s: float) -> None:
        def loop() -> None:
            while True:
                time.sleep(every_s)
                try:
                    self.sweep()
                except Exception:  # the reaper must outlive one bad sweep
                    _log.exception("session reaper")

        threading.Thread(target=loop, name="session-reaper", daemon=True).start()


@st.cache_resource(show_spinner=False)
def _reaper() -> _Reaper:
    r = _Reaper()
    r.run(every_s=min(5.0, max(0.5, float(st.get_option(TTL_OPTION)) / 4)))
    return r


def watch() -> None:
    """Call in every run: this session's leftovers are dropped when it ends."""
    from streamlit.runtime import Runtime

    r, sid = _reaper(), session_id()
    r.watch.seen(sid)
    if sid not in r.apps and Runtime.exists() and (app := Runtime.instance().get_app_session(sid)) is not None:
        r.apps[sid] = weakref.ref(app)


def uploads() -> SessionOwned:
    """Uploaded models by key, shared by the sessions that uploaded the same file to the same device."""
    return _reaper().uploads
