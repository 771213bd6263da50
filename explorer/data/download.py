"""Fetch, verify and cache dataset files: the mirror and checksum tables, and the download itself.

A download goes to a temporary file next to its destination, is verified, and only then renamed into
place (atomic on one filesystem), so a corrupted or interrupted download never lands in the cache.
Tests point SOURCES at a local HTTP server with monkeypatch.setitem.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .idx import content_chunks
from .interrupt import check as check_stop
from .paths import ENV_VAR, cache_dir, find_all, find_file

TIMEOUT_S = 30  # for each read: a mirror silent this long is gone
DEADLINE_S = 300.0  # for a whole file (10 MB at most): a mirror that drips bytes never trips TIMEOUT_S
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest dataset file served is 10 MB; more is not that file
USER_AGENT = "vae-explorer/0.1 (urllib)"  # some mirrors refuse urllib's default agent


@dataclass(frozen=True)
class Source:
    mirrors: tuple[str, ...]  # base URLs ending in "/"; a file's URL is mirror + filename
    # filename -> MD5 of the uncompressed content (for a .gz, of what it unpacks to). This is what we
    # check: mirrors re-compress the files, so the .gz bytes differ while the content does not.
    md5: dict[str, str] = field(default_factory=dict)
    # filename -> MD5 of the file as served; only for datasets that publish no content MD5.
    file_md5: dict[str, str] = field(default_factory=dict)


SOURCES: dict[str, Source] = {
    # Mirrors as torchvision and TensorFlow list them; yann.lecun.com last, as it often refuses bots.
    # MD5s of the uncompressed IDX files, as published with the data (see shared/README.md).
    "mnist": Source(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        md5={"train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
             "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
             "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
             "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637"}),
    # Zalando publishes MD5s of the .gz files only (README of zalandoresearch/fashion-mnist), and both
    # mirrors serve those exact files, so here the file as served is checked.
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        file_md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                  "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                  "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                  "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
    # Sam Roweis' data page. No checksum is published: frey.py validates the download by its shape.
    "frey": Source(mirrors=("https://cs.nyu.edu/~roweis/data/",)),
}


class DataNotFound(FileNotFoundError):
    """The files are neither on disk nor downloadable; the message says which files to put where."""


@dataclass
class Found:
    paths: dict[str, Path]  # filename -> path
    where: Path  # the directory they came from
    verified: bool  # True when just downloaded (and so checked against the table)


def locate(name: str, filenames: list[str], data_dir: str | Path | None = None) -> Found | None:
    found = find_all(name, filenames, data_dir)
    if found is None:
        return None
    return Found(found, next(iter(found.values())).parent, verified=False)


def obtain(name: str, filenames: list[str], data_dir: str | Path | None = None, download: bool = True,
           validate: Callable[[Path], None] | None = None) -> Found:
    """The files from the first directory holding them all, else downloaded into the user cache.

    validate(path) may raise ValueError to reject a download that has no checksum to check.
    """
    found = locate(name, filenames, data_dir)
    if found is not None:
        return found
    cache = cache_dir(name)
    if not download:
        raise DataNotFound(absent_message(name, filenames, data_dir, "downloads are off (download=False)"))
    try:
        for f in filenames:
            if find_file(cache, f) is None:  # keep what an earlier, interrupted run already fetched
                fetch(name, f, cache, validate)
    except OSError as e:
        raise DataNotFound(absent_message(name, filenames, data_dir, f"the download failed:\n{e}")) from e
    return Found({f: find_file(cache, f) for f in filenames}, cache, verified=True)  # type: ignore[misc]


def absent_message(name: str, filenames: list[str], data_dir: str | Path | None, why: str) -> str:
    looked = [str(data_dir)] if data_dir else []
    looked += [f"${ENV_VAR}={os.environ[ENV_VAR]}"] if os.environ.get(ENV_VAR) else [f"${ENV_VAR} (not set)"]
    return (f"{name}: files not found and {why}\n"
            f"Put {', '.join(filenames)} in {cache_dir(name)}\n"
            f"(or in a directory passed as data_dir / --data-dir, or named by ${ENV_VAR}; "
            f"looked in: {', '.join(looked)}, {cache_dir(name)})")


def fetch(name: str, filename: str, dest_dir: Path, validate: Callable[[Path], None] | None = None) -> Path:
    """Download filename from the dataset's mirrors into dest_dir; the first that verifies wins."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in SOURCES[name].mirrors:
        url = mirror + filename
        try:
            tmp = _download(url, dest_dir, filename)
        except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError, timeouts, cut connections
            errors.append(f"  {url}: {e}")
            continue
        try:
            if checksum_ok(name, filename, tmp) is False:
                raise ValueError("checksum mismatch: the file is corrupted or not the official one")
            if validate is not None:
                validate(tmp)
        except ValueError as e:
            tmp.unlink(missing_ok=True)
            errors.append(f"  {url}: rejected, {e}")
            continue
        os.replace(tmp, dest_dir / filename)
        return dest_dir / filename
    raise OSError("\n".join(errors) or f"no mirror listed for {name}")


def checksum_ok(name: str, filename: str, path: Path, content: bytes | None = None) -> bool | None:
    """Whether path matches the table's MD5 for filename; None when the table has none for it.

    content: the uncompressed bytes, when the caller has read them already.
    """
    source = SOURCES[name]
    if filename in source.md5:
        return _md5([content] if content is not None else content_chunks(path)) == source.md5[filename]
    if filename in source.file_md5:
        return _md5(_file_chunks(path)) == source.file_md5[filename]
    return None


def _md5(chunks: Iterable[bytes]) -> str:
    """MD5 over chunks, streamed: a checksum costs one chunk of memory, whatever the file unpacks to."""
    h = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def _download(url: str, dest_dir: Path, filename: str) -> Path:
    """Stream url into a new temporary file in dest_dir, with a progress bar on stderr."""
    from tqdm import tqdm

    # Hidden, and ending in the real name so that its suffix (.gz) still says how to read it.
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix=".part-", suffix=f"-{filename}")
    tmp = Path(name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total is not None and total > MAX_DOWNLOAD_BYTES:
                raise OSError(f"the server offers {total:,} bytes, more than any dataset file "
                              f"({MAX_DOWNLOAD_BYTES // 2**20} MB)")
            got, deadline = 0, time.monotonic() + DEADLINE_S
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {url}",
                      file=sys.stderr, leave=False) as bar:
                while chunk := resp.read1(1 << 16):  # read1: what has come, so the deadline is checked often
                    check_stop()
                    if time.monotonic() > deadline:
                        raise OSError(f"the download took more than {DEADLINE_S:g} s ({got:,} bytes so far); "
                                      "stopped")
                    got += len(chunk)
                    if got > MAX_DOWNLOAD_BYTES:
                        raise OSError(f"the download passed {MAX_DOWNLOAD_BYTES // 2**20} MB, more than any "
                                      "dataset file; stopped")
                    out.write(chunk)
                    bar.update(len(chunk))
    except BaseException:  # also Ctrl-C: never leave a partial file behind
        tmp.unlink(missing_ok=True)
        raise
    return tmp
