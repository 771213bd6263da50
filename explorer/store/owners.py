"""The owners index of a saves folder (`.owners.json`: file name -> owner id), changed by one writer at a time.

Several server processes may share one saves folder, so a change is a read-modify-write under a file lock
(flock on `.owners.lock`; a thread lock as well, since one process serves many sessions), written to a
temporary file and renamed over the index. An index that cannot be parsed is moved aside, never overwritten:
its entries stay for the admin to mend, and meanwhile every listed file counts as somebody else's.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: one process's threads still take turns
    fcntl = None  # type: ignore[assignment]

OWNERS = ".owners.json"
LOCK = ".owners.lock"
_THREADS = threading.Lock()
log = logging.getLogger(__name__)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the folder's index lock, against this process's threads and every other process."""
    with _THREADS, open(folder / LOCK, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield


def read(folder: Path) -> dict[str, str]:
    """The index (empty when there is none). An unparsable one is moved aside with a warning in the log."""
    def check(data: Any) -> dict:
        if not isinstance(data, dict):
            raise ValueError(f"an index is a JSON object, not {type(data).__name__}")
        return data

    data = read_json(folder / OWNERS, check, "the owners index",
                     "until its entries are merged back, nobody may replace the files it listed")
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def read_json(path: Path, check: Callable[[Any], dict], what: str, meanwhile: str) -> dict:
    """A small JSON file of the saves folder through check (a ValueError for a wrong shape); {} when there is none.
    One that cannot be read is moved aside, never lost, and the log says so and what that means meanwhile."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        return check(json.loads(text))
    except (ValueError, RecursionError) as e:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}")
        os.replace(path, aside)
        log.warning("%s %s could not be read (%s); it is kept as %s, and %s", what, path, str(e)[:200],
                    aside.name, meanwhile)
        return {}


def write(folder: Path, owners: dict[str, str]) -> None:
    """Replace the index atomically (call under locked())."""
    tmp = folder / f".owners-{secrets.token_hex(6)}.tmp"
    tmp.write_text(json.dumps(owners, indent=0, sort_keys=True))
    os.replace(tmp, folder / OWNERS)
