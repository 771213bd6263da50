"""Which browser owns which training, so a reloaded page finds its job again and an abandoned one ends.

A page reload starts a new app session, and the old session's state (with its TrainingJob) is gone,
while the job's thread keeps training and holding a slot. The registry keeps each job under its
browser's token (a random id the browser keeps in a cookie) with the app sessions that showed it. A
job is seen while one of those sessions is connected or its browser's page has sent a heartbeat
(`beat`) in the last `beat_timeout_s`; one seen by neither for `grace_s` is stopped, its model kept on
disk by `keep`, and forgotten, so its slot and memory are freed. The heartbeat comes from the open page
itself, so a session that the server counts as gone (a dropped websocket, a new session id after a
reconnect that has not run the script yet) cannot cost a student whose page is still open the training.

The registry knows nothing of Streamlit: `alive(session_id)` says whether a session is connected.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import TrainingJob

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 600.0  # 10 minutes: a laptop lid closed over a break gets its training back
STOP_WAIT_S = 60.0  # how long the reaper waits for a stopped job's current step before saving it
# a page beats every 20 s (ui/training/reaper_settings.DEFAULT_HEARTBEAT_S): four missed beats and it is not seen
BEAT_TIMEOUT_S = 90.0


@dataclass
class _Entry:
    job: TrainingJob
    sessions: set[str] = field(default_factory=set)
    orphaned_since: float | None = None
    last_beat: float | None = None  # the clock when this browser's page last sent a heartbeat


class JobRegistry:
    """token -> the latest TrainingJob started from that browser. Thread-safe."""

    def __init__(self, alive: Callable[[str], bool], keep: Callable[[str, TrainingJob], Path | None],
                 grace_s: float = DEFAULT_GRACE_S, clock: Callable[[], float] = time.monotonic,
                 beat_timeout_s: float = BEAT_TIMEOUT_S):
        if grace_s < 0:
            raise ValueError(f"the grace period must be 0 or more seconds, got {grace_s}")
        if not beat_timeout_s > 0:
            raise ValueError(f"the heartbeat timeout must be more than 0 seconds, got {beat_timeout_s}")
        self.grace_s, self.beat_timeout_s = grace_s, beat_timeout_s
        self._alive, self._keep, self._clock = alive, keep, clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self.kept: list[tuple[int, Path]] = []  # (job id, file) of the jobs the reaper saved

    def register(self, token: str, job: TrainingJob, session_id: str) -> None:
        """`job` is now this browser's training (a new one replaces the previous, which keeps running
        only if still in its own session's hands; the Train page starts one job at a time)."""
        with self._lock:
            self._entries[token] = _Entry(job, {session_id}, last_beat=self._clock())

    def beat(self, token: str) -> bool:
        """This browser's page is open (its heartbeat): its job is seen for the next beat_timeout_s.
        False when the browser has no job here."""
        with self._lock:
            e = self._entries.get(token)
            if e is None:
                return False
            e.last_beat, e.orphaned_since = self._clock(), None
            return True

    def attach(self, token: str, session_id: str) -> TrainingJob | None:
        """The job this browser started, now also shown in session_id; None if there is none."""
        with self._lock:
            e = self._entries.get(token)
            if e is None:
                return None
            e.sessions.add(session_id)
            e.orphaned_since, e.last_beat = None, self._clock()  # a script run of this page is a beat too
            return e.job

    def rekey(self, match: Callable[[str], bool], token: str, session_id: str) -> TrainingJob | None:
        """A teacher reset a browser and its claim link was opened: the job kept under the first token that
        `match`es is `token`'s now, shown in session_id only (the sessions of the old token, a copied cookie's
        among them, no longer keep it). None when there is none, or `token` has a job of its own already."""
        with self._lock:
            if token in self._entries:
                return None
            old = next((t for t in self._entries if match(t)), None)
            if old is None:
                return None
            e = self._entries.pop(old)
            e.sessions, e.orphaned_since, e.last_beat = {session_id}, None, self._clock()
            self._entries[token] = e
            return e.job

    def jobs(self) -> list[TrainingJob]:
        with self._lock:
            return [e.job for e in self._entries.values()]

    def reap(self) -> list[TrainingJob]:
        """Stop, keep and forget the jobs whose browsers have been gone longer than the grace period
        (no connected session and no heartbeat)."""
        now = self._clock()
        due: list[tuple[str, TrainingJob]] = []
        with self._lock:
            for token, e in list(self._entries.items()):
                beating = e.last_beat is not None and now - e.last_beat < self.beat_timeout_s
                if beating or any(self._alive(s) for s in e.sessions):
                    e.orphaned_since = None
                    continue
                if e.orphaned_since is None:
                    e.orphaned_since = now
                if now - e.orphaned_since >= self.grace_s:
                    del self._entries[token]
                    due.append((token, e.job))
        for token, job in due:  # outside the lock: stopping waits for the job's current step
            self._retire(token, job)
        return [job for _, job in due]

    def _retire(self, token: str, job: TrainingJob) -> None:
        job.stop()
        if not job.join(STOP_WAIT_S):
            log.warning("abandoned training job %s did not stop within %.0f s", job.id, STOP_WAIT_S)
            return
        try:
            path = self._keep(token, job)
        except Exception:  # a full disk must not kill the reaper; the log says what was lost
            log.exception("could not keep the model of abandoned training job %s", job.id)
            return
        if path is not None:
            log.info("abandoned training job %s stopped; its model is kept in %s", job.id, path)
            self.kept.append((job.id, path))

    def run_reaper(self, every_s: float) -> threading.Thread:
        """reap() every `every_s` seconds on a daemon thread, for the life of the process."""
        def loop() -> None:
            while True:
                time.sleep(every_s)
                try:
                    self.reap()
                except Exception:
                    log.exception("the training reaper failed; it tries again")

        t = threading.Thread(target=loop, name="training-reaper", daemon=True)
        t.start()
        return t
