"""Values a server holds for the sessions that use them (an uploaded model), dropped when the last of those
sessions ends, and the rule that says a session has ended: an upload must not outlive every tab that showed
it (issue 25, item 5)."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable


class SessionOwned:
    """key -> value, each with the sessions that use it. A session uses at most one key at a time (a person
    explores one upload; the next one replaces it), so a value is dropped as soon as no session uses it, and
    on_drop(key) is called then (outside the lock), for what was derived from it."""

    def __init__(self, on_drop: Callable[[Hashable], None] = lambda key: None) -> None:
        self.on_drop = on_drop
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}
        self._owners: dict[Hashable, set[str]] = {}
        self._used: dict[str, Hashable] = {}  # session -> the key it uses

    def claim(self, key: Hashable, session: str) -> Any:
        """key's value, now used by session, or None when it is not held (then build it and put it)."""
        with self._lock:
            if key not in self._values:
                return None
            value, dropped = self._values[key], self._use(key, session)
        self._dropped(dropped)
        return value

    def put(self, key: Hashable, session: str, value: Any) -> Any:
        """Hold value under key for session; the held value is returned (another session's, if it put first)."""
        with self._lock:
            value = self._values.setdefault(key, value)
            dropped = self._use(key, session)
        self._dropped(dropped)
        return value

    def end(self, session: str) -> list[Hashable]:
        """The session has ended: the keys no session uses any more are dropped (and returned)."""
        with self._lock:
            key = self._used.pop(session, None)
            dropped = [] if key is None else self._release(key, session)
        self._dropped(dropped)
        return dropped

    def keys(self) -> set[Hashable]:
        with self._lock:
            return set(self._values)

    def _dropped(self, keys: list[Hashable]) -> None:
        for key in keys:
            self.on_drop(key)

    def _use(self, key: Hashable, session: str) -> list[Hashable]:
        old = self._used.get(session)
        self._used[session] = key
        self._owners.setdefault(key, set()).add(session)
        return [] if old is None or old == key else self._release(old, session)

    def _release(self, key: Hashable, session: str) -> list[Hashable]:
        owners = self._owners.get(key, set())
        owners.discard(session)
        if owners:
            return []
        self._owners.pop(key, None)
        self._values.pop(key, None)
        return [key]


class SessionWatch:
    """Which of the sessions seen have ended. A disconnected session may be resumed for ttl_s seconds (a
    reload, a network blip: Streamlit's server.disconnectedSessionTTL), so a session has ended once it has
    been inactive for ttl_s, counted from when this watch first saw it inactive (never sooner than the
    server gives up on it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._inactive_since: dict[str, float | None] = {}

    def seen(self, session: str) -> None:
        with self._lock:
            self._inactive_since[session] = None

    def ended(self, active: Callable[[str], bool], ttl_s: float) -> list[str]:
        """The sessions that have ended since the last call (each is forgotten: reported once)."""
        now, out = self.clock(), []
        with self._lock:
            for session, since in list(self._inactive_since.items()):
                if active(session):
                    self._inactive_since[session] = None
                elif since is None:
                    self._inactive_since[session] = now
                elif now - since >= ttl_s:
                    del self._inactive_since[session]
                    out.append(session)
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._inactive_since)
