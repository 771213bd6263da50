"""A server that is warm for the first student. As it starts, it imports the app's modules (torch, scikit-learn,
the pages' modules: about 1-2 CPU-s the first page used to pay); once it listens, it opens the pages named in
EXPLORER_WARM_PAGES (default "map") itself, over its own websocket as a browser would, so each page's models,
encodings, map blobs and pictures are in the server's caches. A class that opens the map at once otherwise waited
for one of them to do all that while the rest queued behind it (BENCHMARKS.md, "A class opening the map").
`python -m explorer warm` fills the file cache ahead of the server; this fills the server's memory.

Imports come before the server takes a request, not in a thread beside it: two threads importing the same
modules can deadlock on Python's import locks. The visit runs the page like any session (it has no cookie, so
it holds no browser's token) and ends; a page that fails only writes a warning: the server still serves.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pkgutil
import ssl
import time
from typing import Any, AsyncIterator

from streamlit.logger import get_logger

log = get_logger(__name__)  # Streamlit's format and level: its log shows these lines beside its own
ENV = "EXPLORER_WARM_PAGES"
DEFAULT = "map"
VISIT_TIMEOUT_S = 600.0  # a cold file cache: the encodings (and t-SNE or UMAP, if the page asks) are computed


def import_app() -> int:
    """Import every module of explorer.ui but the pages (scripts Streamlit runs, not modules); how many."""
    import explorer.ui as ui

    names = [m.name for m in pkgutil.walk_packages(ui.__path__, "explorer.ui.") if ".pages." not in m.name]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:  # the page that needs it will say what is wrong; the server still starts
            log.warning("could not import %s ahead of the first page: %s: %s", name, type(e).__name__, e)
    return len(names)


def pages_to_warm(raw: str | None = None) -> list[str]:
    """The URL paths of EXPLORER_WARM_PAGES ("map", "map,decoder"; "" for none). A ValueError names a page
    the app does not have."""
    from explorer.ui.nav import PAGES

    known = [u for *_, u in PAGES]
    raw = os.environ.get(ENV, DEFAULT) if raw is None else raw
    names = [p.strip().strip("/") for p in raw.split(",") if p.strip()]
    bad = [p for p in names if p not in known]
    if bad:
        raise ValueError(f"{ENV} names {', '.join(map(repr, bad))}: the pages are {', '.join(known)}")
    return names


def stream_url() -> str:
    """This server's websocket, on loopback (what it listens on, unless bound to one other address), wss://
    when it serves https."""
    from streamlit import config

    address = config.get_option("server.address") or "127.0.0.1"
    host = "127.0.0.1" if address in ("0.0.0.0", "::", "localhost") else address
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    scheme = "wss" if config.get_option("server.sslCertFile") else "ws"
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"{scheme}://{host}:{config.get_option('server.port')}/{base + '/' if base else ''}_stcore/stream"


async def visit(url: str, page: str, timeout_s: float = VISIT_TIMEOUT_S) -> int:
    """Run one page as a browser's first visit does; the bytes the server sent. Waits for the server to listen."""
    return await asyncio.wait_for(_visit(url, page), timeout_s)  # (asyncio.timeout is Python 3.11+)


async def _visit(url: str, page: str) -> int:
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    done = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)
    # its own certificate, on loopback: it may be self-signed, and no name on it need be "127.0.0.1"
    tls = ssl._create_unverified_context() if url.startswith("wss:") else None
    while True:
        try:
            ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, ssl=tls)
            break
        except OSError:  # not listening yet: the lifespan starts before the socket is bound
            await asyncio.sleep(0.2)
    async with ws:
        ask = BackMsg()
        ask.rerun_script.page_name = page
        await ws.send(ask.SerializeToString())
        sent = 0
        while True:
            data = await ws.recv()
            sent += len(data)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            # a run cut short for a rerun (a page that reruns itself) is not the end of the visit
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished in done:
                return sent


async def warm_pages(pages: list[str]) -> None:
    url = stream_url()
    for page in pages:
        t0 = time.perf_counter()
        try:
            sent = await visit(url, page)
        except Exception as e:  # noqa: BLE001 -- a warm-up that fails costs the first student time, no more
            log.warning("could not warm /%s: %s: %s", page, type(e).__name__, e)
            continue
        log.info("warmed /%s in %.1f s (%.1f MB to the page)", page, time.perf_counter() - t0, sent / 1e6)


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    t0 = time.perf_counter()
    n = import_app()
    log.info("imported %d modules of the app in %.1f s, before the first page", n, time.perf_counter() - t0)
    try:
        pages = pages_to_warm()
    except ValueError as e:
        log.warning("%s; no page is warmed", e)
        pages = []
    task = asyncio.create_task(warm_pages(pages)) if pages else None
    yield None
    if task is not None:
        task.cancel()
