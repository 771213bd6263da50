"""The browser token, set by the server as an HttpOnly, SameSite=Strict cookie: page script never holds it.

A pure ASGI middleware (streamlit_app.py puts it in front of Streamlit's server). On the page's HTML (not
Streamlit's /_stcore routes, components, media or static files) whose request carries no valid token, or a
token a teacher has reset (explorer.store.browsers), it adds a Set-Cookie with a fresh one; with `?claim=CODE`,
a valid unused claim code, the fresh token inherits the reset browser's files. The websocket that the page then
opens carries the cookie, and the session reads it there (st.context.cookies, ui/training/browser_jobs.py).
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable, MutableMapping
from urllib.parse import parse_qs

from starlette.requests import cookie_parser

from explorer.store import browsers, saves
from explorer.ui.asgi import CONDITIONAL, ASGIApp, Scope, is_html, is_page

COOKIE = "vaex_token"
MAX_AGE_S = 7 * 24 * 3600  # a week: a class a week apart starts afresh
CLAIM = browsers.CLAIM_PARAM
log = logging.getLogger(__name__)


def sent_token(scope: Scope) -> str:
    """The vaex_token cookie of the request, '' when there is none: parsed as the websocket's cookies are (for
    st.context.cookies), so the two never disagree about which token a browser sent."""
    raw = next((v for k, v in scope.get("headers", []) if k == b"cookie"), b"").decode("latin-1")
    return cookie_parser(raw).get(COOKIE, "")


def set_cookie(token: str, secure: bool) -> bytes:
    return (f"{COOKIE}={token}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else "")).encode("latin-1")


class TokenCookie:
    """ASGI middleware; `folder()` is the saves folder, where a teacher's resets are kept."""

    def __init__(self, app: ASGIApp, folder: Callable[[], Path] | None = None):
        self.app = app
        self.folder = folder or saves.saves_dir

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or not is_page(scope["path"]):
            return await self.app(scope, receive, send)
        fresh = await asyncio.get_running_loop().run_in_executor(None, self.fresh_token, scope)
        if fresh is None:
            return await self.app(scope, receive, send)
        # asked whole: a 304 would carry no page to put the cookie on
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k not in CONDITIONAL])
        cookie = set_cookie(fresh, scope.get("scheme") == "https")

        async def send_with_cookie(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if is_html(headers):
                    message = dict(message, headers=headers + [(b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def fresh_token(self, scope: Scope) -> str | None:
        """A new token for this page request, or None when its own is good (in a thread: it may read files)."""
        folder = self.folder()
        code = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(CLAIM, [""])[0]
        if code and scope.get("method") == "GET":  # a HEAD (a link checker) does not use the code up
            token = browsers.new_token()
            try:
                if browsers.claim(folder, code, token) is not None:
                    return token
            except OSError:  # a saves folder it cannot write: the page still opens, the log says why
                log.exception("a claim link could not be used")
        sent = sent_token(scope)
        if browsers.valid_token(sent) and not browsers.is_revoked(folder, sent):
            return None
        return browsers.new_token()

