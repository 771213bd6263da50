"""Browser tokens on a shared server, and the teacher's reset of one (`.browsers.json` in the saves folder).

A browser is named by a random token that the server keeps in an HttpOnly cookie; what it owns (saved files in
the owners index, its training) is keyed by `owner_of(token)`, a hash, and a person is shown only `browser_id`,
the first 8 hex of that hash: enough for a teacher to name the browser, useless as a cookie.

A reset (`revoke`) marks an id as revoked and returns a one-time claim code, of which only a hash is stored: a
token whose owner hash starts with a revoked id is refused from then on (so a copied cookie gives nothing), and
whoever opens the claim link gets a fresh token that inherits the revoked browser's files (`claim`) and, in the
app, its running training (`inherited`). The file is changed under the owners index's lock (one lock for both,
since a claim changes both) and replaced atomically; one that cannot be parsed is moved aside with a warning,
like the owners index.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from . import owners as index
from .atomic import atomic_write

BROWSERS = ".browsers.json"
CLAIM_PARAM = "claim"  # the link's query parameter: URL/?claim=CODE
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
ID_RE = re.compile(r"[0-9a-f]{8,16}")
CODE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
ID_LEN = 8
log = logging.getLogger(__name__)
_cache: dict[Path, tuple[tuple, dict]] = {}  # folder -> (the file's stat, its parsed entries): one read per change
_cache_lock = threading.Lock()


def new_token() -> str:
    return secrets.token_urlsafe(24)


def valid_token(text: object) -> bool:
    return isinstance(text, str) and TOKEN_RE.fullmatch(text) is not None


def owner_of(token: str) -> str:
    """Who a token is in the owners index: a hash, so the index never holds a token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def browser_id(token: str) -> str:
    """The short, non-secret name a page shows for its browser (and a teacher types to reset it)."""
    return owner_of(token)[:ID_LEN]


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def read(folder: Path) -> dict[str, dict]:
    """Revoked id -> {"at": time, "claim": code hash, "heir": owner hash or None}. An unparsable file is moved
    aside (its revocations no longer apply until merged back: the log says so)."""
    def check(data: Any) -> dict:
        revoked = data.get("revoked") if isinstance(data, dict) else None
        if not isinstance(revoked, dict) or not all(_entry_ok(k, v) for k, v in revoked.items()):
            raise ValueError("expected {\"revoked\": {id: {\"claim\": ..., \"heir\": ...}}}")
        return revoked

    return index.read_json(Path(folder) / BROWSERS, check, "the browser resets file",
                           "the browsers it reset are NOT refused until it is merged back")


def _entry_ok(key: object, v: object) -> bool:
    return (isinstance(key, str) and ID_RE.fullmatch(key) is not None and isinstance(v, dict)
            and isinstance(v.get("claim"), str) and (v.get("heir") is None or isinstance(v.get("heir"), str)))


def _write(folder: Path, revoked: dict[str, dict]) -> None:
    """Replace the file atomically (call under owners.locked())."""
    atomic_write(Path(folder) / BROWSERS, json.dumps({"revoked": revoked}, indent=0, sort_keys=True).encode())


def _current(folder: Path) -> dict[str, dict]:
    """The entries, read again only when the file has changed (a page asks on every run)."""
    folder = Path(folder)
    try:
        st = (folder / BROWSERS).stat()
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:  # none yet, or a saves folder that is a file (refused at Save, in words): nothing reset here
        return {}
    with _cache_lock:
        hit = _cache.get(folder)
        if hit is not None and hit[0] == sig:
            return hit[1]
        try:
            with index.locked(folder):  # a moved-aside file is moved by one reader only
                entries = read(folder)
        except OSError as e:  # unreadable (permissions): the app goes on, and the log says what is not applied
            log.error("the browser resets file in %s cannot be read (%s): the browsers it reset are NOT refused",
                      folder, e)
            return {}
        _cache[folder] = (sig, entries)
        return entries


def is_revoked(folder: Path, token: str) -> bool:
    owner = owner_of(token)
    return any(owner.startswith(i) for i in _current(folder))


def revoke(folder: Path, browser: str) -> str:
    """Refuse every token of this browser id from now on; the one-time claim code that gives its files (and
    training) to a fresh token. Revoking an id again makes a new code (the old one stops working)."""
    browser = browser.strip().lower()
    if ID_RE.fullmatch(browser) is None:
        raise ValueError(f"a browser id is 8 to 16 hex digits (the page shows 8, e.g. 3fa94c0e); got {browser!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    code = secrets.token_urlsafe(18)
    with index.locked(folder):
        revoked = read(folder)
        revoked[browser] = {"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "claim": _hash_code(code), "heir": None}
        _write(folder, revoked)
    return code


def claim(folder: Path, code: str, token: str) -> str | None:
    """If `code` is an unused claim code: `token` now owns the revoked browser's saved files, the code is used
    up, and the revoked id is returned; else None."""
    if not isinstance(code, str) or CODE_RE.fullmatch(code) is None or not (Path(folder) / BROWSERS).exists():
        return None
    folder, wanted, heir = Path(folder), _hash_code(code), owner_of(token)
    with index.locked(folder):
        revoked = read(folder)
        found = [i for i, e in revoked.items() if e["heir"] is None and secrets.compare_digest(e["claim"], wanted)]
        if not found:
            return None
        old = found[0]
        owners = index.read(folder)
        moved = {name: (heir if who.startswith(old) else who) for name, who in owners.items()}
        if moved != owners:  # the files first: a crash before the next line leaves the code usable again
            index.write(folder, moved)
        revoked[old]["heir"] = heir
        _write(folder, revoked)
    return old


def inherited(folder: Path, owner: str) -> list[str]:
    """The revoked ids whose claim link made `owner` their heir."""
    return [i for i, e in _current(folder).items() if e["heir"] == owner]


def current_owner(folder: Path, owner: str) -> str:
    """Who owns what `owner` had: its heir once its id was reset and claimed (a chain of resets followed)."""
    entries = _current(folder)
    for _ in range(len(entries)):
        heir = next((e["heir"] for i, e in entries.items() if owner.startswith(i) and e["heir"]), None)
        if heir is None or heir == owner:
            break
        owner = heir
    return owner
