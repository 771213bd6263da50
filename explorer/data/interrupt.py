"""A stop signal for slow data loading (a folder of 100,000 pictures, a download), checked between files.

The thread that loads names its stop event with `stop_on(event)` (a training job's worker does); loaders call
`check()` where stopping is safe. A thread-local, so that loaders need no extra argument through every layer.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_local = threading.local()


class Stopped(Exception):
    """Loading stopped because its thread was asked to stop (the Train page's Stop)."""


@contextlib.contextmanager
def stop_on(event: threading.Event) -> Iterator[None]:
    """While inside, check() on this thread raises Stopped once event is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def check() -> None:
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise Stopped("stopped while loading the data")
