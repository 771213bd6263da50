"""Every page at 1400x900, as a new user saw them: no button, tab or metric label cut short with an
ellipsis ("Interpolate f…", "Start the de…", "gap log p(x) …" were)."""
from __future__ import annotations

import pytest

from tests.browser_harness import AppServer, launch, missing_browser, truncated_labels, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser()
if why:
    pytest.skip(f"browser test skipped: {why}", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

PAGES = ["map", "decoder", "interpolate", "maths", "train", "lesson"]
WINDOW = {"width": 1400, "height": 900}


def test_no_label_is_cut_short_at_1400_by_900():
    """The bundled models as a new server opens them (mnist_vae2), each page and each of its tabs."""
    cut = {}
    with AppServer() as server, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport=WINDOW)
            for name in PAGES:
                page.goto(f"{server.url}/{name}")
                page.wait_for_timeout(2000)
                wait_idle(page, 300)
                found = truncated_labels(page)
                tabs = page.locator('[role="tab"]')
                for i in range(tabs.count()):
                    tabs.nth(i).click()
                    page.wait_for_timeout(500)
                    wait_idle(page, 300)
                    found += truncated_labels(page)
                if found:
                    cut[name] = sorted({f["text"] for f in found})
        finally:
            browser.close()
    assert not cut, cut
