"""Work done once per key for every thread that asks, with its progress visible to all of them.

The first caller of a key starts the work on a thread of its own; every caller (the first included) waits
for it and sees its latest progress. A caller that stops waiting (a Streamlit rerun) leaves the work
running, so the next run finds it further on. A failed work's error goes to its waiters and is
forgotten: the next caller retries.
Finished values are kept, newest `max_entries`, and shared read-only.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

from ..model.progress import Progress


class _Work:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.fraction, self.text, self.started = 0.0, "Starting…", time.monotonic()

    def report(self, fraction: float, text: str) -> None:
        self.fraction, self.text = fraction, text


class SharedWork:
    """A bounded map key -> value, each value computed once however many threads ask at once."""

    def __init__(self, max_entries: int = 32, name: str = "shared-work"):
        self.max_entries, self.name = max_entries, name
        self._lock = threading.Lock()
        self._works: OrderedDict[Hashable, _Work] = OrderedDict()
        self.computed = 0  # how many works were started (tests count them)

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) when key's value is ready, else (False, None); starts nothing."""
        with self._lock:
            w = self._works.get(key)
            if w is not None and w.done.is_set() and w.error is None:
                self._works.move_to_end(key)
                return True, w.value
        return False, None

    def get(self, key: Hashable, compute: Callable[[Progress], Any],
            wait: Callable[[float, str, float], None] | None = None, poll_s: float = 0.25) -> Any:
        """key's value, computing it with compute(progress) if no thread has. While waiting, calls
        wait(fraction, text, seconds since the work started) every poll_s (it may raise to stop waiting)."""
        w = self._start(key, compute)
        while not w.done.wait(poll_s if wait else None):
            wait(w.fraction, w.text, time.monotonic() - w.started)
        if w.error is not None:
            raise w.error
        return w.value

    def _start(self, key: Hashable, compute: Callable[[Progress], Any]) -> _Work:
        with self._lock:
            w = self._works.get(key)
            if w is not None:  # running, or done (a failed work is no longer listed)
                self._works.move_to_end(key)
                return w
            w = self._works[key] = _Work()
            self.computed += 1
            self._trim()
        threading.Thread(target=self._run, args=(key, w, compute), name=self.name, daemon=True).start()
        return w

    def _run(self, key: Hashable, w: _Work, compute: Callable[[Progress], Any]) -> None:
        try:
            w.value = compute(w.report)
        except BaseException as e:  # kept for the waiters; forgotten so that the next caller retries
            w.error = e
            with self._lock:
                if self._works.get(key) is w:
                    del self._works[key]
        finally:
            w.done.set()

    def _trim(self) -> None:
        done = [k for k, w in self._works.items() if w.done.is_set()]  # oldest first
        while len(self._works) > self.max_entries and done:
            del self._works[done.pop(0)]

    def drop(self, matches: Callable[[Hashable], bool]) -> int:
        """Forget every key that matches (a running work finishes for its waiters, then is gone); how many."""
        with self._lock:
            keys = [k for k in self._works if matches(k)]
            for k in keys:
                del self._works[k]
        return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._works.clear()
