"""Which folders the app's data-directory box may read: any on a local run, only configured roots on a
shared server.

On a server the box is input from strangers: unchecked, it would read any folder the server can and, by
its error messages, tell which paths exist. EXPLORER_DATA_ROOTS lists the folders it may read (separated
by the platform's path separator, ':' on Linux); a path outside them is refused with one message whether
it exists or not.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOTS_ENV = "EXPLORER_DATA_ROOTS"


def data_roots() -> list[Path] | None:
    """The configured roots, or None when EXPLORER_DATA_ROOTS is not set."""
    raw = os.environ.get(ROOTS_ENV)
    if raw is None:
        return None
    return [Path(r).expanduser() for r in raw.split(os.pathsep) if r.strip()]


def allowed_data_dir(text: str | None, remote: bool) -> str | None:
    """The folder a user typed, resolved, when they may read it (None for an empty box); a ValueError if not.

    remote: the user is not on this machine. Roots, once configured, apply to everyone (behind a proxy
    every user looks local); without them a remote user may not choose a folder at all.
    """
    if text is None or not text.strip():
        return None
    roots = data_roots()
    if roots is None and not remote:
        return text.strip()
    if not roots:
        raise ValueError(f"this server does not let its users choose a data directory (its administrator can "
                         f"allow folders with {ROOTS_ENV})")
    path = Path(text.strip()).expanduser()
    real = os.path.realpath(path if path.is_absolute() else roots[0] / path)  # symlinks out are followed out
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return real
    raise ValueError(f"on this server the data directory must be inside {os.pathsep.join(map(str, roots))} "
                     f"(a relative path is taken inside {roots[0]})")
