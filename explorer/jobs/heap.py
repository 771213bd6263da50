"""The server's heap, set to give memory back (issue 25, item 5). glibc's defaults keep it: each thread gets an
arena of its own (up to 8 per core) whose free top stays mapped up to a trim threshold that grows with the
largest block freed (to 64 MB), and blocks of tens of MB are carved from those arenas once one such block has
been freed. A server that handles many uploads from many threads then stays near its peak after every object
is gone (BENCHMARKS.md, "Memory returned", has the soak's numbers for each setting)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from contextlib import contextmanager
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's parameters (malloc.h)
SETTINGS = (  # (mallopt parameter, value, the environment variable with which an administrator overrides it)
    (M_ARENA_MAX, 2, "MALLOC_ARENA_MAX"),  # two arenas shared by all threads: less memory stranded in each
    (M_MMAP_THRESHOLD, 16 * 2**20, "MALLOC_MMAP_THRESHOLD_"),  # a block of 16 MB or more is unmapped when freed
    (M_TRIM_THRESHOLD, 32 * 2**20, "MALLOC_TRIM_THRESHOLD_"),  # an arena keeps at most 32 MB free at its top
)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (musl and others have neither)
    except (OSError, AttributeError):
        return None
    return libc


def tune_heap() -> list[str]:
    """Apply SETTINGS (glibc only; those an environment variable sets are left to it); the names applied."""
    libc = _libc()
    if libc is None:
        return []
    done = []
    for param, value, env in SETTINGS:
        if env not in os.environ and libc.mallopt(param, value) == 1:
            done.append(env)
    return done


def trim_heap() -> bool:
    """Return the free pages inside the arenas to the system (malloc_trim); True when it ran. It cannot reach
    the free top of a thread's arena: use freeing_tops around the frees for that."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@contextmanager
def freeing_tops() -> Iterator[None]:
    """While inside, a block freed at the top of an arena (from any thread) gives the free top back at once
    (a trim threshold of 0); the threshold in force before is restored after."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(M_TRIM_THRESHOLD, 0)
    try:
        yield
    finally:
        libc.mallopt(M_TRIM_THRESHOLD, _trim_threshold())


def _trim_threshold() -> int:
    raw = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
    return int(raw) if raw.isdigit() else dict((p, v) for p, v, _ in SETTINGS)[M_TRIM_THRESHOLD]
