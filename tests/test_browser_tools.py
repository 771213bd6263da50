"""The Latent map's projector tools in headless Chromium: a lasso in the map's own component fills the
Selection tab, a hovered dot shows its image, an attribute vector shows its strength row and its path.
Screenshots go where tests/test_browser.py puts them (docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import math

import pytest

from tests import test_browser as base
from tests.browser_harness import wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect, TIMEOUT_MS = base.expect, base.TIMEOUT_MS
trained_dir, app, browser, page = base.trained_dir, base.app, base.browser, base.page  # the same fixtures


def lasso(page, cx: float, cy: float, r: float, steps: int = 24) -> None:
    """Draw a closed loop of radius r around (cx, cy) with the lasso tool."""
    page.locator(".vx-tool[data-tool='lasso']").first.click()
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for i in range(1, steps + 1):
        a = 2 * math.pi * i / steps
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a))
    page.mouse.up()


def test_lasso_fills_the_selection_tab_and_a_vector_shows_its_strength_row(app, page) -> None:
    base.open_page(page, app, "", ".vx-root[data-ready='1']")
    box = page.locator(".vx-over").first.bounding_box()
    cx, cy, r = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, 90
    lasso(page, cx, cy, r)
    inside = page.locator(".vx-root").first.evaluate("r => r.__map.sel.size")
    pts = page.locator(".vx-root").first.evaluate("r => r.__map.screenCoords()")
    want = sum(1 for x, y in pts if (box["x"] + x - cx) ** 2 + (box["y"] + y - cy) ** 2 < (r * 0.95) ** 2)
    assert inside >= want > 0, (inside, want)  # every dot well inside the loop is caught
    page.get_by_role("tab", name="Selection").click()
    expect(page.get_by_text(f"{inside:,} images selected")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("their mean code, decoded")).to_be_visible()
    wait_idle(page)
    # the selection came back in the next payload: the page outlines the same points
    assert page.locator(".vx-root").first.evaluate("r => (r.__map.header.sel || []).length") == inside
    page.locator(".vx-tool[data-tool='pan']").first.click()
    x, y = pts[0]
    page.mouse.move(box["x"] + x, box["y"] + y)
    expect(page.locator(".vx-tip").first).to_be_visible()
    expect(page.locator(".vx-tip").first).to_contain_text("image 0 · label")
    page.locator(".stTabs").first.scroll_into_view_if_needed()
    base.shot(page, "map-selection")
    page.get_by_role("tab", name="Attribute vector").click()
    expect(page.get_by_test_id("stImageCaption").filter(has_text="+2.0")).to_be_visible(timeout=TIMEOUT_MS)
    path = page.locator(".vx-root").first.evaluate("r => (r.__map.header.path || []).length")
    assert path == 18  # nine strengths, x and y each
    page.get_by_role("tab", name="Neighbours").click()
    expect(page.get_by_text("Euclidean distance between posterior means")).to_be_visible()
    lines = page.locator(".vx-root").first.evaluate("r => (r.__map.header.lines_latent || []).length")
    assert lines == 8 * 4
    base.shot(page, "map-neighbours")
