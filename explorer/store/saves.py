"""Checkpoints that people save from the app on a shared server: a folder of their own, apart from the
bundled models, where a save never replaces a file somebody else wrote.

Who wrote a file is recorded in a small index beside the files (`.owners.json`: file name -> owner id,
an opaque string such as a hash of the browser's token), so "overwrite?" can be asked of one's own file
and refused for anyone else's. The index is an honest-user guard, not access control.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

SAVES_ENV = "EXPLORER_SAVES_DIR"
OWNERS = ".owners.json"
SUFFIX = ".safetensors"
_LOCK = threading.Lock()  # one server process: saves from its sessions take turns on the index


class SaveRefused(ValueError):
    """A save that would replace a file it must not (somebody else's, a bundled one), in words."""


def saves_dir(default: Path) -> Path:
    env = os.environ.get(SAVES_ENV, "").strip()
    return Path(env) if env else default


def clean_name(raw: str, fallback: str) -> str:
    """A plain file name ending in .safetensors: no folders, no leading dots, only [A-Za-z0-9._-]."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw.strip()).strip(".-") or fallback
    return name if name.endswith(SUFFIX) else name + SUFFIX


def unique_name(stem: str, folder: Path, now: float | None = None) -> str:
    """`stem-YYYYmmdd-HHMMSS.safetensors`, with a counter if that exists too: two students saving the same
    model a second apart still get two files."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    base = clean_name(f"{stem}-{stamp}", "model")[: -len(SUFFIX)]
    name, n = base + SUFFIX, 1
    while (folder / name).exists():
        n += 1
        name = f"{base}-{n}{SUFFIX}"
    return name


def owner_of(folder: Path, name: str) -> str | None:
    return _read_owners(folder).get(name)


def save_as(write: Callable[[Path], object], folder: Path, name: str, owner: str, *, overwrite: bool = False,
            protected: tuple[Path, ...] = ()) -> Path:
    """Write a checkpoint as folder/name for `owner`; write(path) writes the file (e.g. TrainingJob.save).

    A new name is created atomically and only if nobody took it meanwhile (a hard link of a finished
    temporary file, which fails on an existing name). An existing file is replaced only when `overwrite`
    is set and the index says `owner` wrote it. Nothing inside `protected` folders is ever written.
    """
    folder = Path(folder)
    target = folder / clean_name(name, "model")
    for p in protected:
        if _inside(target, p):
            raise SaveRefused(f"{p} holds the bundled models, which the app never changes; save elsewhere")
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        write(tmp)
        with _LOCK:
            owners = _read_owners(folder)
            if target.exists():
                if owners.get(target.name) != owner:
                    raise SaveRefused(f"{target.name} was saved by somebody else; choose another name")
                if not overwrite:
                    raise FileExistsError(f"you already saved {target.name}")
                os.replace(tmp, target)
            else:
                _create_new(tmp, target)
            owners[target.name] = owner
            _write_owners(folder, owners)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _create_new(tmp: Path, target: Path) -> None:
    """Put tmp at target only if target does not exist, atomically where links work."""
    try:
        os.link(tmp, target)  # fails with FileExistsError if the name was taken since the check
    except FileExistsError:
        raise SaveRefused(f"{target.name} was saved by somebody else just now; choose another name") from None
    except OSError:  # a filesystem without hard links: claim the name first, then fill it
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise SaveRefused(f"{target.name} was saved by somebody else just now; choose another name") from None
        os.replace(tmp, target)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def _remove_stale_temporaries(folder: Path, older_than_s: float = 3600.0) -> None:
    """A save killed half-way leaves a hidden .tmp; the next save removes those over an hour old."""
    cutoff = time.time() - older_than_s
    for p in folder.glob(".*.tmp"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


def _read_owners(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / OWNERS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_owners(folder: Path, owners: dict[str, str]) -> None:
    tmp = folder / f".{OWNERS}.{secrets.token_hex(6)}.tmp"
    tmp.write_text(json.dumps(owners, indent=0, sort_keys=True))
    os.replace(tmp, folder / OWNERS)
