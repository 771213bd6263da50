"""The Latent map's layout in headless Chromium: at 1400x900 it takes the page (at least 700 px wide, the
chosen point beside it), sits above the fold with its axes, and draws one unit of z as long across as up
(a circle in z is a circle), through zoom and resize; presenter mode enlarges it. Apart from
tests/test_browser.py (its app and browser fixtures, the digits VAE with a 2-D latent) to keep files short."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests import test_browser as base

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS, open_page = base.TIMEOUT_MS, base.open_page
trained_dir, saves_dir, app, browser = base.trained_dir, base.saves_dir, base.app, base.browser


def px_per_unit(page) -> tuple[float, float]:
    """The map's CSS px per unit of z across and up, fitted to where the page draws its dots (a 2-D latent:
    a dot's map coordinates are its z)."""
    got = page.locator(".vx-root").first.evaluate("r => ({xy: r.__map.screenCoords(), z: Array.from(r.__map.coords)})")
    xy, z = np.asarray(got["xy"]), np.asarray(got["z"]).reshape(-1, 2)
    kx, ky = np.polyfit(z[:, 0], xy[:, 0], 1)[0], -np.polyfit(z[:, 1], xy[:, 1], 1)[0]  # screen y grows down
    return float(kx), float(ky)


def unit_circle_aspect(page) -> float:
    """Width over height of the unit circle of z as the page draws it (1: a circle)."""
    kx, ky = px_per_unit(page)
    t = np.linspace(0, 2 * np.pi, 73)
    x, y = kx * np.cos(t), -ky * np.sin(t)
    return float(np.ptp(x) / np.ptp(y))


def test_the_map_takes_the_page_with_equal_axes_above_the_fold(app, browser) -> None:
    """At 1400x900 the map is at least 700 px wide, its canvas (axes included) ends above the fold, and a
    circle in z is a circle on screen, after a zoom and a resize too; presenter mode makes it larger."""
    sizes = {}
    for query in ("", "?present=1"):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctx.set_default_timeout(TIMEOUT_MS)
        page = ctx.new_page()
        try:
            open_page(page, app, query, ".vx-root[data-ready='1']")
            page.wait_for_timeout(800)  # a late rerun can still move the map
            box = sizes[query] = page.locator(".vx-base").first.bounding_box()
            assert unit_circle_aspect(page) == pytest.approx(1, rel=0.02)
            if query:
                continue
            assert box["width"] >= 700, box
            assert box["y"] + box["height"] <= 900, box
            assert page.locator(".vx-info").first.bounding_box()["x"] < box["x"] + box["width"]  # not beside it
            page.locator(".vx-btn").filter(has_text=re.compile(r"^\+$")).first.click()
            assert unit_circle_aspect(page) == pytest.approx(1, rel=0.02)
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.wait_for_timeout(800)
            assert page.locator(".vx-base").first.bounding_box()["width"] > box["width"]
            assert unit_circle_aspect(page) == pytest.approx(1, rel=0.02)
        finally:
            ctx.close()
    normal, big = sizes[""], sizes["?present=1"]
    assert big["width"] > normal["width"] and big["height"] >= normal["height"], (normal, big)
