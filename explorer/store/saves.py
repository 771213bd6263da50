"""Checkpoints that people save from the app on a shared server: a folder of their own, apart from the
bundled models, where a save never replaces a file somebody else wrote.

Who wrote a file is recorded in a small index beside the files (`.owners.json`: file name -> owner id,
an opaque string such as a hash of the browser's token; explorer.store.owners keeps it), so "overwrite?" can be
asked of one's own file and refused for anyone else's. The index is an honest-user guard, not access control.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable

from . import owners as index
from .owners import OWNERS

SAVES_ENV = "EXPLORER_SAVES_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "saved"  # saved/ beside the bundled trained/ of the repository
SUFFIX = ".safetensors"
MAX_NAME = 200  # characters, suffix included: well under the 255 bytes most file systems allow a name


class SaveRefused(ValueError):
    """A save that would replace a file it must not (somebody else's, a bundled one), in words."""


class AlreadySaved(FileExistsError):
    """The name is this owner's own file: replace it only when they say so (overwrite=True)."""


def saves_dir(default: Path = DEFAULT_DIR) -> Path:
    """Where the app saves models, and where a teacher's browser resets are kept (the app and the CLI agree)."""
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
    with index.locked(Path(folder)):
        return index.read(Path(folder)).get(name)


def save_as(write: Callable[[Path], object], folder: Path, name: str, owner: str, *, overwrite: bool = False,
            protected: tuple[Path, ...] = ()) -> Path:
    """Write a checkpoint as folder/name for `owner`; write(path) writes the file (e.g. TrainingJob.save).

    A new name is created atomically and only if nobody took it meanwhile (a hard link of a finished
    temporary file, which fails on an existing name). An existing file is replaced only when `overwrite`
    is set and the index says `owner` wrote it. Nothing inside `protected` folders is ever written.
    """
    folder = Path(folder)
    target = folder / clean_name(name, "model")
    if len(target.name) > MAX_NAME:
        raise SaveRefused(f"a file name of at most {MAX_NAME} characters, please (this one has {len(target.name)})")
    for p in protected:
        if _inside(target, p):
            raise SaveRefused(f"{p} holds the bundled models, which the app never changes; save elsewhere")
    if folder.exists() and not folder.is_dir():  # else mkdir's FileExistsError would read as "you saved it"
        raise SaveRefused(f"the saves folder {folder} is a file, not a folder: the server's {SAVES_ENV} must name "
                          "a folder")
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder)
    tmp = folder / f".save-{secrets.token_hex(6)}.tmp"  # short: a long name plus a suffix would pass the limit
    try:
        write(tmp)
        with index.locked(folder):
            owners = index.read(folder)
            if target.exists():
                if owners.get(target.name) != owner:
                    raise SaveRefused(f"{target.name} was saved by somebody else; choose another name")
                if not overwrite:
                    raise AlreadySaved(f"you already saved {target.name}")
                os.replace(tmp, target)
            else:
                _create_new(tmp, target)
            owners[target.name] = owner
            index.write(folder, owners)
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
