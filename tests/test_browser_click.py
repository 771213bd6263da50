"""A click on the latent map sends a click (issue 24, item 5): the decoder's weights, the points and their images
travel once per map; a click brings back only the chosen point and the marks (their own component, so the
map's element is unchanged and Streamlit sends a reference to the copy the browser holds). The bytes are what the
app's websocket carries to the page, counted frame by frame in headless Chromium."""
from __future__ import annotations

import pytest

from tests import test_browser as base
from tests.browser_harness import AppServer, click_bytes, count_frames, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
browser, page, app, trained_dir, saves_dir = base.browser, base.page, base.app, base.trained_dir, base.saves_dir
CLICK_BYTES = 10_000  # issue 24's target for one click


def test_a_click_on_the_map_sends_under_10_kb_while_the_star_moves(app: AppServer, page) -> None:
    sizes = count_frames(page)
    base.open_page(page, app, "", ".vx-root[data-ready='1']")
    wait_idle(page)
    page.wait_for_timeout(1000)
    opened = sum(sizes)
    sent, before, after = click_bytes(page, sizes)
    print(f"open {opened:,} bytes; click {sent:,} bytes")
    assert after and after != before
    assert sent < CLICK_BYTES, f"a click made the server send {sent:,} bytes"
