"""The browser token in headless Chromium (issue 25, item 4): the server sets it as an HttpOnly, SameSite=Strict
cookie that page script cannot read and no websocket frame carries; a copied cookie stops working once a teacher
resets the browser (`python -m explorer browsers reset ID`, a real process), and the claim link gives the student
a new cookie with the training and the saved file back. A reload finding the training with this cookie is
tests/test_browser.py's test_a_reload_finds_the_running_training_again. The page's head, which the server's
other middleware writes (explorer/ui/still_skeletons.py), is checked here too. Uses that file's app and browser."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from tests import test_browser as base
from tests.browser_harness import REPO, VIEWPORT, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS, open_page, train_digits, stop_button, nav, fill = (base.TIMEOUT_MS, base.open_page, base.train_digits,
                                                               base.stop_button, base.nav, base.fill)
trained_dir, saves_dir, app, browser = base.trained_dir, base.saves_dir, base.app, base.browser
expect = base.expect


def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def token_of(ctx) -> dict:
    (cookie,) = [c for c in ctx.cookies() if c["name"] == "vaex_token"]
    return cookie


def short_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def test_the_token_is_an_httponly_cookie_that_no_page_script_or_frame_holds(app, browser) -> None:
    ctx = context(browser)
    page = ctx.new_page()
    frames: list[bytes] = []

    def listen(ws) -> None:
        for event in ("framereceived", "framesent"):
            ws.on(event, lambda f: frames.append(f if isinstance(f, bytes) else f.encode()))

    page.on("websocket", listen)
    try:
        open_page(page, app, "train", "button:has-text('Start training')")
        cookie = token_of(ctx)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert cookie["value"] not in page.evaluate("document.cookie")
        expect(page.get_by_text(short_id(cookie["value"]), exact=True)).to_be_visible()  # the id, not the token
        nav(page, "Latent map")
        nav(page, "Train")
        assert len(frames) > 10
        assert not [f for f in frames if cookie["value"].encode() in f], "a websocket frame carried the token"
    finally:
        ctx.close()


def test_placeholders_are_held_still_from_the_page_head(app, browser) -> None:
    ctx = context(browser)
    page = ctx.new_page()
    try:
        page.goto(f"{app.url}/map", wait_until="commit")
        # in force before any script of Streamlit's ran: it is in the HTML the server sent
        page.wait_for_function("document.head && document.head.querySelector('style[data-vx=\"still-skeletons\"]')")
        still = page.evaluate("""() => { const s = document.createElement('div'); s.dataset.testid = 'stSkeleton';
            s.style.animation = 'spin 1s infinite'; document.body.appendChild(s);
            const a = getComputedStyle(s).animationName; s.remove(); return a; }""")
        assert still == "none"
    finally:
        ctx.close()


def reset(app, browser_id: str) -> str:
    """The teacher's command, as a process of its own: the claim link it prints."""
    out = subprocess.run([sys.executable, "-m", "explorer", "browsers", "reset", browser_id, "--url", app.url],
                         cwd=REPO, env={**os.environ, **app.env}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return re.search(r"(http://\S+/train\?claim=\S+)", out.stdout).group(1)


def owners(saves_dir) -> dict:
    return json.loads((saves_dir / ".owners.json").read_text())


def test_a_reset_takes_a_copied_cookies_rights_and_the_claim_link_gives_them_back(app, browser, saves_dir) -> None:
    ctx_a, ctx_b = context(browser), context(browser)
    a, b = ctx_a.new_page(), ctx_b.new_page()
    try:
        # A trains, saves a file, and goes on training
        train_digits(a, app, batch_size="3")
        a.get_by_role("button", name="Start training").click()
        expect(a.get_by_text("Training · epoch")).to_be_visible()
        stop_button(a).click()
        expect(a.get_by_text("Stopped · epoch")).to_be_visible()
        a.get_by_role("button", name="Save on this server").click()
        expect(a.get_by_text("Saved digits-vae-z2-")).to_be_visible()
        saved = a.locator(".st-key-train_save_name input").input_value()
        token_a = token_of(ctx_a)["value"]
        assert owners(saves_dir)[saved] == hashlib.sha256(token_a.encode()).hexdigest()[:16]
        a.get_by_role("button", name="Resume").click()
        expect(a.get_by_text("Training · epoch")).to_be_visible()
        # B holds a copy of A's cookie: until the reset it is A
        ctx_b.add_cookies([{"name": "vaex_token", "value": token_a, "url": app.url, "httpOnly": True,
                            "sameSite": "Strict"}])
        open_page(b, app, "train", "button:has-text('Start training')")
        # what stays on the page: the one-run "here again" notice can be gone by a slow page's second run
        expect(b.get_by_text("Training · epoch")).to_be_visible()
        link = reset(app, short_id(token_a))
        # B's open page loses it at its next run; a reload gives B a fresh cookie of no rights
        nav(b, "Latent map")
        nav(b, "Train")
        expect(b.get_by_role("button", name="Start training")).to_be_enabled()
        expect(b.get_by_text("Training · epoch")).to_have_count(0)
        b.reload()
        b.locator("button:has-text('Start training')").wait_for()
        wait_idle(b)
        assert token_of(ctx_b)["value"] != token_a
        expect(b.get_by_text("Training · epoch")).to_have_count(0)
        expect(b.get_by_text(short_id(token_a), exact=True)).to_have_count(0)
        # A opens the claim link: a new cookie, and the training and the file are A's again
        a.goto(link)
        expect(a.get_by_text("Training · epoch")).to_be_visible()
        token_a2 = token_of(ctx_a)["value"]
        assert token_a2 != token_a and "claim=" not in a.url  # the used code leaves the address bar
        assert owners(saves_dir)[saved] == hashlib.sha256(token_a2.encode()).hexdigest()[:16]
        stop_button(a).click()
        expect(a.get_by_text("Stopped · epoch")).to_be_visible()
        fill(a, "train_save_name", saved)
        a.get_by_role("button", name="Save on this server").click()
        expect(a.get_by_text("You already saved a model as")).to_be_visible()  # A's own file: it asks
        # the used link gives B nothing
        b.goto(link)
        b.locator("button:has-text('Start training')").wait_for()
        wait_idle(b)
        expect(b.get_by_text("Training · epoch")).to_have_count(0)
        expect(b.get_by_text("Stopped · epoch")).to_have_count(0)
    finally:
        ctx_a.close()
        ctx_b.close()
