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
saves_dir, app, browser = base.saves_dir, base.app, base.browser


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """tests/test_browser.py's digits VAE, and a digits AE of the same latent size to compare it with."""
    from explorer.cli import main

    d = tmp_path_factory.mktemp("trained")
    for kind in ("vae", "ae"):
        assert main(["train", "--dataset", "digits", "--kind", kind, "--hidden", "64", "--epochs", "5",
                     "--batch-size", "32", "--threads", "1", "--quiet",
                     "--out", str(d / f"digits_{kind}2.safetensors")]) == 0
    return d


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


def test_the_side_by_side_maps_are_drawn_in_the_page_with_equal_axes(app, browser) -> None:
    """The maps under the main one (this VAE, the AE beside it) are canvases the page draws from the points'
    numbers, not WebGL charts (each cost a browser more CPU than the rest of the map page): every point is
    drawn where its z is, in its label's colour, one unit of z as long across as up."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    try:
        open_page(page, app, "", ".vx-root[data-ready='1']")
        page.get_by_role("tab", name="Models side by side").click()  # built when its tab opens
        stills = page.locator(".vx-still[data-ready='1']")
        stills.nth(1).scroll_into_view_if_needed()
        assert stills.count() == 2 and page.get_by_test_id("stPlotlyChart").count() == 0
        main_z = np.asarray(page.locator(".vx-root").first.evaluate("r => Array.from(r.__map.coords)")).reshape(-1, 2)
        for i in range(2):
            got = stills.nth(i).evaluate("""r => { const S = r.__still, c = S.base.getContext("2d");
                const kx = (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0), ky = (S.h - S.M.t - S.M.b) / (S.view.y1 - S.view.y0);
                const xy = Array.from(S.coords), px = [];
                for (let k = 0; k < S.n; k += 7) {  // the pixel under a dot's centre (device px), RGBA
                  const x = S.M.l + (xy[2 * k] - S.view.x0) * kx + 1, y = S.h - S.M.b - (xy[2 * k + 1] - S.view.y0) * ky + 1;
                  px.push(Array.from(c.getImageData(Math.floor(x * S.r), Math.floor(y * S.r), 1, 1).data));
                }
                return {kx, ky, xy, px, n: S.n}; }""")
            assert got["kx"] == pytest.approx(got["ky"], rel=1e-6)
            z = np.asarray(got["xy"]).reshape(-1, 2)
            assert got["n"] == len(main_z)
            if i == 0:  # the current model, drawn from the same encoding as the main map
                assert np.allclose(z, main_z, atol=1e-6)
            coloured = [p for p in got["px"] if not (p[0] > 245 and p[1] > 245 and p[2] > 245)]
            assert len(coloured) >= 0.95 * len(got["px"]), "dots missing where their z is"
        page.screenshot(path=str(base.ARTIFACTS / "side_by_side.png"), full_page=True)
    finally:
        ctx.close()
