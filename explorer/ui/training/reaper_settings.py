"""How long a training whose browser is gone keeps running, and how often an open page says it is there: the two
settings of the Train page's reaper (explorer/jobs/registry.py), read from the environment and checked."""
from __future__ import annotations

import os

from explorer.jobs.registry import DEFAULT_GRACE_S

GRACE_ENV = "EXPLORER_TRAINING_GRACE_S"
HEARTBEAT_ENV = "EXPLORER_TRAINING_HEARTBEAT_S"
DEFAULT_HEARTBEAT_S = 20.0
MISSED_BEATS = 4.5  # a page not heard for this many beats is not seen (a busy server delays a beat or two)


def _seconds(name: str, default: float, lo: float, hi: float, span: str) -> float:
    """The seconds in environment variable `name` (default when unset) within [lo, hi]; a ValueError naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not lo <= value <= hi:  # NaN fails both
        raise ValueError(f"{name} must be {span} seconds, got {raw!r}")
    return value


def grace_from_env() -> float:
    """EXPLORER_TRAINING_GRACE_S: seconds a training whose browser is gone keeps running (default 600)."""
    return _seconds(GRACE_ENV, DEFAULT_GRACE_S, 0, 1e308, "0 or more")


def heartbeat_from_env() -> float:
    """EXPLORER_TRAINING_HEARTBEAT_S: seconds between an open page's heartbeats (default 20)."""
    return _seconds(HEARTBEAT_ENV, DEFAULT_HEARTBEAT_S, 0.5, 3600, "from 0.5 to 3600")


def _heartbeat_or_default() -> float:
    try:
        return heartbeat_from_env()
    except ValueError:  # streamlit_app.py refuses to run with it and says why
        return DEFAULT_HEARTBEAT_S


HEARTBEAT_S = _heartbeat_or_default()  # read once: the fragment's timer is set when this module loads
