"""Atomic file writes: a reader sees the old file or the new one, never half of one; a crash leaves the old."""
from __future__ import annotations

import glob
import os
import re
import secrets
import time
from pathlib import Path

ORPHAN_AGE_S = 3600  # a temporary file of unknown origin older than this is left over from a crash


def atomic_write(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a temporary file beside the target, then rename over it: readers see the old file or the
    # new one, never half of one.
    # O_EXCL with mode 0666 lets the umask apply, as for a plain open() (mkstemp would force 0600).
    _remove_orphans(path)
    tmp = path.parent / f".{path.name}.pid{os.getpid()}-{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():  # overwriting keeps the old file's permissions, as open("wb") would
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)



def _remove_orphans(path: Path) -> None:
    """Temporary files of earlier saves to path whose writer is gone (killed mid-save). One of a running
    process, this one included (another thread may be saving), is left alone."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        m = re.fullmatch(r"pid(\d+)-[0-9a-f]+", tmp.name[len(path.name) + 2:-len(".tmp")])
        try:
            if m is None:  # not ours to judge by its name: only once it is surely stale
                if time.time() - tmp.stat().st_mtime < ORPHAN_AGE_S:
                    continue
            elif int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
                continue
            tmp.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
