"""Where a training's checkpoint goes: checked before the first epoch, rescued to a named fallback when a
save fails later, and never replaced by a diverged state.

A run that can only discover at its end that --out is a directory, a read-only folder or a full disk
loses all its epochs; one that writes a diverged state over the last good checkpoint loses that file.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable


def check_writable(path: str | os.PathLike, need_bytes: int = 0, what: str = "--out") -> Path:
    """path, when a file can be written there (and need_bytes fit); a ValueError saying why not."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory; name a file in it, e.g. {path / 'model.safetensors'}")
    folder = path.parent
    while not folder.exists():  # save_model creates missing folders: the nearest existing one must allow it
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {what} {path}: {folder} is a file, not a folder")
    probe = folder / f".{path.name}.{secrets.token_hex(4)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as e:
        raise ValueError(f"cannot write {what} {path}: {folder} is not writable ({e.strerror or e})") from None
    free = shutil.disk_usage(folder).free
    if need_bytes and free < need_bytes:
        raise ValueError(f"cannot write {what} {path}: {free / 2**20:.1f} MB free in {folder}, "
                         f"the checkpoint needs about {need_bytes / 2**20:.1f} MB")
    return path


def diverged_path(path: Path) -> Path:
    """Where a diverged state goes when path holds a checkpoint: beside it, never over it."""
    return path.with_name(f"{path.stem}.diverged{path.suffix or '.safetensors'}")


def fallback_paths(path: Path) -> list[Path]:
    """Named places to rescue a checkpoint that cannot be written to path: the working folder, then the
    system's temporary folder."""
    name = f"{path.stem}.rescued-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix or '.safetensors'}"
    return [Path.cwd() / name, Path(tempfile.gettempdir()) / name]


class CheckpointTarget:
    """Writes a run's checkpoints to one path. A failed save goes to a named fallback (said once, and the
    later saves follow it); a diverged state goes beside a file that is already there."""

    def __init__(self, path: str | os.PathLike, say: Callable[[str], None]):
        self.path = Path(path)
        self.target = self.path
        self.say = say
        self.failed: str | None = None  # why path could not be written, once that happened

    def write(self, save: Callable[[Path], object], diverged: bool = False) -> Path:
        target = diverged_path(self.target) if diverged and self.target.exists() else self.target
        try:
            save(target)
            return target
        except OSError as e:
            why = f"cannot write {target}: {e.strerror or e}"
        for fallback in fallback_paths(self.path):
            try:
                save(fallback)
            except OSError:
                continue
            self.failed = why
            self.say(f"error: {why}; the checkpoint was saved to {fallback} instead")
            if target == self.target:
                self.target = fallback
            return fallback
        raise ValueError(f"{why}, nor to {' or '.join(map(str, fallback_paths(self.path)))}")
