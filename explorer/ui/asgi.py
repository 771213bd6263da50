"""What the app's ASGI middlewares (streamlit_app.py puts them in front of Streamlit's server) share: their types,
which requests are for the page's HTML, and which answers are HTML."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, MutableMapping

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
CONDITIONAL = (b"if-none-match", b"if-modified-since")  # request headers that may get a 304: no page in it
_NOT_PAGES = {"_stcore", "component", "media"}


def is_page(path: str) -> bool:
    """A URL whose answer is the app's HTML: a page (/, /map, /train) or index.html; not a file or a route."""
    parts = path.split("/")
    return not _NOT_PAGES.intersection(parts) and ("." not in parts[-1] or parts[-1] == "index.html")


def is_html(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Response headers of an HTML answer."""
    return any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
