"""The one way the app reads a checkpoint file lying in a folder (bundled trained/, the saves folder): whatever is
wrong with one file becomes one line about that file, so one bad file is one "(unreadable)" entry and never
breaks a page or a listing of the others. A file is untrusted input, so any exception reading it counts."""
from __future__ import annotations

import os

from ..model.latent_model import LatentModel
from .checkpoint import load_model, read_metadata
from .header import CheckpointError

UNREADABLE = "(unreadable)"
_PLAIN = (CheckpointError, OSError, ValueError)  # their messages name the problem; others also need their type


class Unreadable(ValueError):
    """A file in a folder that cannot be opened; its message is one line that names the file."""


def reason(e: BaseException) -> str:
    """Why a file could not be read, in one line of at most 300 characters."""
    text = " ".join(str(e).split()) or "no reason given"
    text = text if isinstance(e, _PLAIN) else f"{type(e).__name__}: {text}"
    return text if len(text) <= 300 else text[:299] + "…"


def card(path: str | os.PathLike) -> dict:
    """The file's metadata without its history and optimizer state (read_metadata checks its header and data
    record as loading does, so a record no page can use shows in the listing); {"error": reason} otherwise."""
    try:
        meta = read_metadata(path)
    except Exception as e:  # noqa: BLE001 - any failure of one file is that file's entry
        return {"error": reason(e)}
    return {k: v for k, v in meta.items() if k not in ("history", "optimizer")}


def open_model(path: str | os.PathLike, device: str) -> LatentModel | str:
    """The model in eval mode, or why it cannot be opened (one line): returned, not raised, so a cache may keep
    a refusal as it keeps a model and a bad file is not read again at every rerun."""
    try:
        return load_model(path, device=device)
    except Exception as e:  # noqa: BLE001 - as in card()
        return reason(e)
