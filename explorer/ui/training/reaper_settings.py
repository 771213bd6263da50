"""How long a training whose browser is gone keeps running, and how often an open page says it is there: the two
settings of the Train page's reaper (explorer/jobs/registry.py), read from the environment and checked."""
from __future__ import annotations

import os

from explorer.jobs.registry import DEFAULT_GRACE_S

GRACE_ENV = "EXPLORER_TRAINING_GRACE_S"
HEARTBEAT_ENV = "EXPLORER_TRAINING_HEARTBEAT_S"
DEFAULT_HEARTBEAT_S = 20.0
MISSED_BEATS = 4.5  # a page not heard for this many beats is not seen (a busy server delays a beat or two)


def grace_from_env() -> float:
    """EXPLORER_TRAINING_GRACE_S: seconds a training whose browser is gone keeps running (default 600)."""
    raw = os.environ.get(GRACE_ENV, "").strip()
    if not raw:
        return DEFAULT_GRACE_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{GRACE_ENV} must be a number of seconds, got {raw!r}") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{GRACE_ENV} must be 0 or more seconds, got {raw!r}")
    return value


def heartbeat_from_env() -> float:
    """EXPLORER_TRAINING_HEARTBEAT_S: seconds between an open page's heartbeats (default 20)."""
    raw = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not raw:
        return DEFAULT_HEARTBEAT_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{HEARTBEAT_ENV} must be a number of seconds, got {raw!r}") from None
    if not 0.5 <= value <= 3600:
        raise ValueError(f"{HEARTBEAT_ENV} must be from 0.5 to 3600 seconds, got {raw!r}")
    return value


def _heartbeat_or_default() -> float:
    try:
        return heartbeat_from_env()
    except ValueError:  # streamlit_app.py refuses to run with it and says why
        return DEFAULT_HEARTBEAT_S


HEARTBEAT_S = _heartbeat_or_default()  # read once: the fragment's timer is set when this module loads
