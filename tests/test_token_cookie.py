"""The browser token as the server sets it (explorer/ui/training/token_cookie.py, a pure ASGI middleware, driven
here with a fake app), and a teacher's reset of a browser (explorer/store/browsers.py, `python -m explorer
browsers reset`): a reset token is refused, its claim code works once and hands the browser's files over."""
from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from explorer.cli import main
from explorer.jobs.registry import JobRegistry
from explorer.store import browsers, owners
from explorer.ui.training.token_cookie import TokenCookie, is_page

TOKEN_A = "A" * 32  # a well-formed token (the server makes them with secrets.token_urlsafe(24))
HTML = [(b"content-type", b"text/html; charset=utf-8")]


def serve(folder, path="/", cookie: str | None = None, query=b"", scheme="http", answer=HTML,
          headers=(), kind="http", method="GET") -> tuple[list, dict]:
    """The middleware in front of a fake app that answers `answer` headers: (the response's headers, the scope
    the app was given)."""
    seen: dict = {}

    async def app(scope, receive, send):
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": list(answer)})
        await send({"type": "http.response.body", "body": b"<html></html>"})

    sent: list = []

    async def send(message):
        sent.append(message)

    hdrs = list(headers) + ([(b"cookie", f"other=1; vaex_token={cookie}".encode())] if cookie is not None else [])
    scope = {"type": kind, "method": method, "path": path, "query_string": query, "scheme": scheme, "headers": hdrs}
    asyncio.run(TokenCookie(app, folder=lambda: folder)(scope, None, send))
    return sent[0]["headers"], seen


def set_cookies(headers) -> list[str]:
    return [v.decode() for k, v in headers if k == b"set-cookie"]


def new_token(headers) -> str:
    (value,) = set_cookies(headers)
    return re.match(r"vaex_token=([^;]+);", value).group(1)


# -- the middleware -------------------------------------------------------------------------------------
def test_a_page_without_a_token_gets_an_httponly_strict_cookie(tmp_path):
    (value,) = set_cookies(serve(tmp_path, "/")[0])
    token, *attrs = [p.strip() for p in value.split(";")]
    assert re.fullmatch(r"vaex_token=[A-Za-z0-9_-]{32}", token)
    assert attrs == ["Path=/", "Max-Age=604800", "HttpOnly", "SameSite=Strict"]
    assert new_token(serve(tmp_path, "/train")[0]) != token.split("=")[1]  # each browser its own
    assert set_cookies(serve(tmp_path, "/", scheme="https")[0])[0].endswith("; Secure")


@pytest.mark.parametrize("path", ["/_stcore/health", "/_stcore/host-config", "/static/js/index.Dxyz.js",
                                  "/component/x/index.html", "/media/abc.png", "/favicon.png",
                                  "/_stcore/bidi-components/x/index.html"])
def test_only_the_pages_html_gets_a_cookie(tmp_path, path):
    assert not is_page(path)
    assert set_cookies(serve(tmp_path, path)[0]) == []


def test_a_page_path_answered_without_html_gets_none(tmp_path):
    assert all(is_page(p) for p in ("/", "/map", "/train", "/index.html", "/app/base/train"))
    assert set_cookies(serve(tmp_path, "/map", answer=[(b"content-type", b"application/json")])[0]) == []
    assert set_cookies(serve(tmp_path, "/map", method="POST")[0]) == []


def test_a_valid_token_is_kept_and_a_bad_one_replaced(tmp_path):
    headers, scope = serve(tmp_path, "/map", cookie=TOKEN_A, headers=[(b"if-none-match", b'"e"')])
    assert set_cookies(headers) == []
    assert (b"if-none-match", b'"e"') in scope["headers"]  # nothing to add: the page may come from the cache
    for bad in ("short", "A" * 65, "A" * 20 + "!", ""):
        headers, scope = serve(tmp_path, "/map", cookie=bad, headers=[(b"if-none-match", b'"e"')])
        assert new_token(headers) != bad
        assert all(k != b"if-none-match" for k, _ in scope["headers"]), "a 304 would carry no page for the cookie"


def test_the_cookie_is_read_as_the_websocket_reads_it(tmp_path):
    """Starlette's lenient parser (st.context.cookies uses it): another site's odd cookie does not hide ours."""
    for before in (b"a=x y", b"flag", b'q=x"y', b"_streamlit_xsrf=2|ab|cd|1"):  # http.cookies gives up at the first
        odd = [(b"cookie", before + b"; vaex_token=" + TOKEN_A.encode())]
        assert set_cookies(serve(tmp_path, "/", headers=odd)[0]) == [], before


def test_a_revoked_token_is_replaced_and_other_browsers_are_not(tmp_path):
    browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))
    assert new_token(serve(tmp_path, "/", cookie=TOKEN_A)[0]) != TOKEN_A
    assert set_cookies(serve(tmp_path, "/", cookie="B" * 32)[0]) == []


def test_a_websocket_passes_untouched(tmp_path):
    seen: dict = {}

    async def app(scope, receive, send):
        seen.update(scope)

    scope = {"type": "websocket", "path": "/_stcore/stream", "headers": []}
    asyncio.run(TokenCookie(app, folder=lambda: tmp_path)(scope, None, None))
    assert seen == scope


def test_a_claim_link_gives_a_fresh_token_the_reset_browsers_files_once(tmp_path):
    old = browsers.owner_of(TOKEN_A)
    with owners.locked(tmp_path):
        owners.write(tmp_path, {"a.safetensors": old, "b.safetensors": "f" * 16})
    code = browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))
    fresh = new_token(serve(tmp_path, "/train", cookie=TOKEN_A, query=f"claim={code}".encode())[0])
    assert owners.read(tmp_path) == {"a.safetensors": browsers.owner_of(fresh), "b.safetensors": "f" * 16}
    assert browsers.inherited(tmp_path, browsers.owner_of(fresh)) == [browsers.browser_id(TOKEN_A)]
    # used up: the same link again (a copied one) gives nothing; a valid token keeps itself
    assert set_cookies(serve(tmp_path, "/train", cookie="B" * 32, query=f"claim={code}".encode())[0]) == []
    other = new_token(serve(tmp_path, "/train", query=f"claim={code}".encode())[0])
    code = browsers.revoke(tmp_path, browsers.browser_id(fresh))
    serve(tmp_path, "/train", query=f"claim={code}".encode(), method="HEAD")  # a link checker's HEAD
    assert browsers.claim(tmp_path, code, "C" * 32) == browsers.browser_id(fresh)  # did not use it up
    assert browsers.inherited(tmp_path, browsers.owner_of(other)) == []


# -- the resets file ----------------------------------------------------------------------------------
def test_a_reset_refuses_every_token_of_that_browser_only(tmp_path):
    assert not browsers.is_revoked(tmp_path, TOKEN_A)
    code = browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A).upper())
    assert browsers.is_revoked(tmp_path, TOKEN_A) and not browsers.is_revoked(tmp_path, "B" * 32)
    stored = (tmp_path / browsers.BROWSERS).read_text()
    assert code not in stored and TOKEN_A not in stored  # only hashes are kept
    with pytest.raises(ValueError, match="8 to 16 hex"):
        browsers.revoke(tmp_path, "nothex!!")


def test_a_saves_folder_that_is_a_file_resets_nothing_and_breaks_no_page(tmp_path):
    (tmp_path / "file").write_text("")
    assert not browsers.is_revoked(tmp_path / "file", TOKEN_A)
    assert set_cookies(serve(tmp_path / "file", "/", cookie=TOKEN_A)[0]) == []
    assert new_token(serve(tmp_path / "file", "/", query=b"claim=" + b"c" * 24)[0])


def test_a_second_reset_makes_a_new_code_and_the_old_one_stops_working(tmp_path):
    first = browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))
    second = browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))
    assert browsers.claim(tmp_path, first, "C" * 32) is None
    assert browsers.claim(tmp_path, second, "C" * 32) == browsers.browser_id(TOKEN_A)
    assert browsers.claim(tmp_path, second, "D" * 32) is None


def test_a_reaped_training_of_a_claimed_browser_is_kept_for_its_heir(tmp_path):
    code = browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))
    assert browsers.current_owner(tmp_path, browsers.owner_of(TOKEN_A)) == browsers.owner_of(TOKEN_A)
    browsers.claim(tmp_path, code, "C" * 32)
    assert browsers.current_owner(tmp_path, browsers.owner_of(TOKEN_A)) == browsers.owner_of("C" * 32)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"revoked": []}', '{"revoked": {"zz": {"claim": "x"}}}'])
def test_a_resets_file_that_cannot_be_read_is_moved_aside_with_a_warning(tmp_path, caplog, text):
    (tmp_path / browsers.BROWSERS).write_text(text)
    with caplog.at_level(logging.WARNING):
        assert not browsers.is_revoked(tmp_path, TOKEN_A)
    assert "NOT refused until it is merged back" in caplog.text
    aside = list(tmp_path.glob(f"{browsers.BROWSERS}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == text  # kept for the admin, never overwritten
    browsers.revoke(tmp_path, browsers.browser_id(TOKEN_A))  # a new file starts
    assert browsers.is_revoked(tmp_path, TOKEN_A)


def test_a_claimed_training_moves_to_the_new_token_in_the_registry():
    reg = JobRegistry(lambda s: True, lambda t, j: None)
    job = object()  # the registry only holds it
    reg.register(TOKEN_A, job, "s1")
    old = browsers.browser_id(TOKEN_A)
    match = lambda tok: browsers.owner_of(tok).startswith(old)  # noqa: E731
    assert reg.rekey(match, "C" * 32, "s2") is job
    assert reg.attach(TOKEN_A, "s3") is None and reg.attach("C" * 32, "s3") is job
    reg.register("D" * 32, object(), "s4")
    assert reg.rekey(lambda tok: tok == "C" * 32, "D" * 32, "s5") is None  # D has a training of its own


# -- the teacher's command ------------------------------------------------------------------------------
def test_the_reset_command_prints_a_one_time_link(tmp_path, capsys):
    assert main(["browsers", "reset", browsers.browser_id(TOKEN_A), "--saves-dir", str(tmp_path),
                 "--url", "http://class:8501/"]) == 0
    link = re.search(r"http://class:8501/train\?claim=(\S+)", capsys.readouterr().out)
    assert link and browsers.is_revoked(tmp_path, TOKEN_A)
    assert browsers.claim(tmp_path, link.group(1), "C" * 32) == browsers.browser_id(TOKEN_A)
    assert main(["browsers", "reset", "xyz", "--saves-dir", str(tmp_path)]) == 2
    (tmp_path / "file").write_text("")
    assert main(["browsers", "reset", "3fa94c0e", "--saves-dir", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert json.loads((tmp_path / browsers.BROWSERS).read_text())["revoked"].keys() == {browsers.browser_id(TOKEN_A)}


def test_a_browser_that_leaves_during_a_request_is_one_log_line_not_a_traceback(caplog) -> None:
    """Streamlit's upload route lets ClientDisconnect escape when a tab closes mid-upload; uvicorn logged a stack."""
    from starlette.requests import ClientDisconnect

    from explorer.ui.quiet_disconnect import QuietDisconnect

    async def upload_route(scope, receive, send):
        raise ClientDisconnect()

    with caplog.at_level(logging.INFO, logger="explorer.ui.quiet_disconnect"):
        asyncio.run(QuietDisconnect(upload_route)({"type": "http", "path": "/_stcore/upload_file/x"}, None, None))
    assert [r.getMessage() for r in caplog.records] == ["the browser left during its request to /_stcore/upload_file/x"]

    async def broken(scope, receive, send):
        raise RuntimeError("a real error")

    with pytest.raises(RuntimeError):  # anything else is still the server's to log
        asyncio.run(QuietDisconnect(broken)({"type": "http", "path": "/"}, None, None))
