"""Streamlit draws a pulsing placeholder (stSkeleton) for each element whose code is still loading. A page that
opens while 7 others do (a class, every browser on one 2-core machine: benchmarks/map_open.py) waits seconds for
that code, and the pulse is repainted all the while: it was about a sixth of the machine's work as 8 pages
opened the map. Held still, a placeholder is still there; it only stops repainting.

The rule has to be in force before Streamlit draws its first placeholder, so it cannot come with the page's
script (an st.html or st.markdown style arrives after its own code has loaded). This pure ASGI middleware
(streamlit_app.py puts it in front of Streamlit's server) writes it into the page's HTML head instead.
"""
from __future__ import annotations

from typing import Any, Callable, MutableMapping

from explorer.ui.asgi import CONDITIONAL, ASGIApp, Scope, is_html, is_page

STYLE = (b"<style data-vx=\"still-skeletons\">[data-testid='stSkeleton'], [data-testid='stSkeleton'] * "
         b"{ animation: none !important; }</style>")
# the page as Streamlit stores it: plain (no gzip to undo), and whole (no 304 that would keep an older head)
_DROPPED = (b"accept-encoding", b"range", *CONDITIONAL)
_STALE = (b"content-length", b"etag", b"last-modified")  # they describe Streamlit's file, not the page we send


def with_style(html: bytes) -> bytes:
    """The page with STYLE at the end of its head; a page without a head is left as it is."""
    at = html.find(b"</head>")
    return html if at < 0 else html[:at] + STYLE + html[at:]


class StillSkeletons:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "HEAD") or not is_page(scope["path"]):
            return await self.app(scope, receive, send)
        # a HEAD is asked as a GET, so its headers say what a GET gets; its body is dropped
        scope = dict(scope, method="GET",
                     headers=[(k, v) for k, v in scope["headers"] if k.lower() not in _DROPPED])
        start: MutableMapping[str, Any] | None = None
        body: list[bytes] = []

        async def rewrite(message: MutableMapping[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                plain = not any(k.lower() == b"content-encoding" for k, v in headers)
                if message.get("status") == 200 and is_html(headers) and plain:
                    start = message  # held until the whole body is here: its length changes
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = with_style(b"".join(body))
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in _STALE]
                await send(dict(start, headers=headers + [(b"content-length", str(len(page)).encode())]))
                message = {"type": "http.response.body", "body": page if method == "GET" else b""}
            await send(message)

        await self.app(scope, receive, rewrite)
