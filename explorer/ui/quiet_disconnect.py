"""A browser that leaves during an upload is one log line, not a traceback.

Streamlit 1.67's upload route (starlette_routes._upload_put) lets starlette's ClientDisconnect escape when a tab
closes while its file is still being sent; uvicorn then logs "Exception in ASGI application" with a whole stack,
every time (benchmarks/hostile_run.py: 3 of 3 cut-off uploads). Nothing is wrong but the log: the request has no
one left to answer. This pure ASGI middleware (streamlit_app.py puts it in front of Streamlit's routes) ends such
a request quietly.
"""
from __future__ import annotations

import logging
from typing import Callable

from starlette.requests import ClientDisconnect

from explorer.ui.asgi import ASGIApp, Scope

log = logging.getLogger(__name__)


class QuietDisconnect:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.info("the browser left during its request to %s", scope.get("path", "?"))
