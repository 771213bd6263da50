"""The still placeholders' rule in the page's head (explorer/ui/still_skeletons.py, a pure ASGI middleware,
driven here with a fake app; tests/test_browser_token.py checks it in Chromium on the real server)."""
from __future__ import annotations

import asyncio

from explorer.ui.still_skeletons import STYLE, StillSkeletons

PAGE = b"<!doctype html><html><head><title>x</title></head><body><div id=root></div></body></html>"
HTML = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(PAGE)).encode()),
        (b"etag", b'"abc"'), (b"last-modified", b"Sat, 05 Dec 2026 00:59:21 GMT")]
ASKED = [(b"accept-encoding", b"gzip, br"), (b"if-none-match", b'"abc"'), (b"cookie", b"a=1")]


def serve(path="/map", status=200, headers=HTML, chunks=(PAGE,), method="GET", kind="http"):
    """(the messages sent to the browser, the request headers the app saw)."""
    seen: dict = {}

    async def app(scope, receive, send):
        seen["headers"] = scope.get("headers")
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for i, c in enumerate(chunks):
            await send({"type": "http.response.body", "body": c, "more_body": i < len(chunks) - 1})

    sent: list = []

    async def send(message):
        sent.append(message)

    scope = {"type": kind, "method": method, "path": path, "headers": list(ASKED)}
    asyncio.run(StillSkeletons(app)(scope, None, send))
    return sent, seen["headers"]


def body(sent) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_page_gets_the_rule_in_its_head_with_a_true_length():
    sent, asked = serve()
    page = body(sent)
    assert page == PAGE.replace(b"</head>", STYLE + b"</head>")
    headers = dict(sent[0]["headers"])
    assert int(headers[b"content-length"]) == len(page)
    assert b"etag" not in headers and b"last-modified" not in headers  # they named Streamlit's file
    assert dict(asked) == {b"cookie": b"a=1"}  # asked plain (no gzip to undo) and whole (no 304)


def test_a_page_sent_in_pieces_is_put_together_first():
    sent, _ = serve(chunks=(PAGE[:20], PAGE[20:50], PAGE[50:]))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert body(sent) == PAGE.replace(b"</head>", STYLE + b"</head>")


def test_a_head_gets_the_headers_a_get_gets_and_no_body():
    (got, _), (head, asked) = serve(), serve(method="HEAD")
    assert head[0]["headers"] == got[0]["headers"] and body(head) == b""
    assert dict(asked) == {b"cookie": b"a=1"}


def test_files_routes_and_other_answers_pass_untouched():
    js = [(b"content-type", b"text/javascript"), (b"content-length", b"5")]
    for sent, asked in (serve("/static/js/index.js", headers=js, chunks=(b"x=1;\n",)),
                        serve("/_stcore/health", chunks=(PAGE,)),
                        serve("/map", method="POST", chunks=(PAGE,))):
        assert asked == ASKED and body(sent) in (b"x=1;\n", PAGE)
    gz = HTML + [(b"content-encoding", b"gzip")]  # an app that compressed anyway: not rewritten blind
    sent, _ = serve(headers=gz, chunks=(b"\x1f\x8b...",))
    assert body(sent) == b"\x1f\x8b..." and sent[0]["headers"] == gz
    sent, _ = serve(status=304, chunks=(b"",))
    assert sent[0]["status"] == 304 and body(sent) == b""
    sent, _ = serve(chunks=(b"<html>no head</html>",))
    assert body(sent) == b"<html>no head</html>"
