"""The latent map at 100,000 points in headless Chromium (issue 24), mounted alone as benchmarks/bench_map.py mounts
it: a click picks the nearest visible dot (held against a brute-force search in Python over the page's own screen
coordinates), a lasso selects exactly the dots inside it (the even-odd rule, worked out in Python), a hover decodes
the z under the pointer as torch does, and a slow map's pan moves its picture and draws it whole on release."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_map import map_page, synthetic
from tests.browser_harness import REPO, launch, missing_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]
N = 100_000
MOUNT = """async () => {
    const blob = new Uint8Array(await (await fetch('/blob')).arrayBuffer());
    window.__picks = []; window.__sel = []; window.__poly = [];
    const root = document.getElementById('root');
    window.__m = window.mountMap(root, { onPick: (p) => window.__picks.push(p), onSelect: (s) => window.__sel.push(s.ids) });
    window.__m.load(blob);
    await window.__m.state.thumbsReady;  // deflated thumbnails join the map once inflated (latent_map.js)
    const c = root.querySelector('.vx-over');
    for (const kind of ['pointerdown', 'pointermove']) c.addEventListener(kind, (e) => {
        const r = c.getBoundingClientRect(); if (e.buttons) window.__poly.push([e.clientX - r.left, e.clientY - r.top]); });
    return true; }"""


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    from explorer import load_model
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    coords, labels = synthetic(N, seed=1)
    blob = map_payload(load_model(REPO / "trained" / "mnist_vae2.safetensors"), make_projection("axes"), coords,
                       labels, coords)
    with sync_playwright() as pw:
        browser = launch(pw)
        pg = map_page(browser, blob)
        pg.evaluate(MOUNT)
        yield pg
        browser.close()


def screen(page) -> np.ndarray:
    return np.asarray(page.evaluate("() => window.__m.state.screenCoords()"), np.float64)


def test_a_click_picks_the_nearest_dot(page) -> None:
    box = page.locator(".vx-over").bounding_box()
    xy = screen(page)
    for fx, fy in [(0.5, 0.5), (0.3, 0.7), (0.8, 0.2)]:
        px, py = round(box["width"] * fx), round(box["height"] * fy)
        page.evaluate("() => { window.__picks = []; }")
        page.mouse.click(box["x"] + px, box["y"] + py)
        page.wait_for_function("() => window.__picks.length > 0", timeout=10_000)
        got = page.evaluate("() => window.__picks[0]")
        d = np.hypot(xy[:, 0] - px, xy[:, 1] - py)
        if d.min() <= 10:  # PICK_PX: a dot this close is picked; else the z under the pointer
            assert got == {"index": int(np.argmin(d))}, (got, d.min())
        else:
            assert "z" in got


def inside(poly: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The even-odd rule, as map_select.js applies it."""
    c = np.zeros(len(x), bool)
    for i in range(len(poly)):
        (xi, yi), (xj, yj) = poly[i], poly[i - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        c ^= cross
    return c


def lasso(page, pts: list[tuple[float, float]]) -> tuple[list[int], list[int]]:
    """Draw a lasso through pts (page px) with the lasso tool: the ids the map selected, and the dots inside the
    path the pointer took (its screen coordinates, the even-odd rule) worked out here."""
    page.locator(".vx-btn", has_text="lasso").first.click()
    page.evaluate("() => { window.__poly = []; window.__sel = []; }")
    page.mouse.move(*pts[0])
    page.mouse.down()
    for p in pts[1:]:
        page.mouse.move(*p)
    page.mouse.up()
    page.wait_for_function("() => window.__sel.length > 0", timeout=10_000)
    ids = page.evaluate("() => window.__sel[0]")
    poly = np.asarray(page.evaluate("() => window.__poly"), np.float64)
    xy = screen(page)
    return ids, np.flatnonzero(inside(poly, xy[:, 0], xy[:, 1])).tolist()


def test_a_lasso_selects_exactly_the_dots_inside(page) -> None:
    box = page.locator(".vx-over").bounding_box()
    cx, cy = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ids, want = lasso(page, [(cx + 150 * np.cos(a) * (1 + 0.3 * np.sin(3 * a)), cy + 110 * np.sin(a)) for a in t])
    assert len(want) > 1000
    assert ids == want


PIXELS = "([x, y, w, h]) => Array.from(window.__m.state.base.getContext('2d').getImageData(x, y, w, h).data)"


def test_a_slow_maps_pan_moves_its_picture_and_draws_it_whole_when_released(page) -> None:
    """A pan on a map whose full draw is slow (map_view.js panRedraw) moves the picture the pan began with, pixel
    for pixel, and draws every point again when the button is released."""
    page.dblclick(".vx-over", position={"x": 5, "y": 5})  # the fitted view
    page.locator(".vx-btn", has_text="pan").first.click()
    box = page.locator(".vx-over").bounding_box()
    assert page.evaluate("() => window.devicePixelRatio") == 1
    cx, cy, dx, dy = round(box["width"] / 2), round(box["height"] / 2), 40, 20
    rect = [cx - 60, cy - 40, 120, 80]
    before = np.asarray(page.evaluate(PIXELS, rect), np.uint8)
    page.evaluate("() => { window.__m.state.drawMs = 1e9; }")  # as slow as a million points, whatever this machine
    page.mouse.move(box["x"] + cx, box["y"] + cy)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + cx + dx * k / 10, box["y"] + cy + dy * k / 10)
    assert page.evaluate("() => window.__m.state.snap !== null")
    moved = np.asarray(page.evaluate(PIXELS, [rect[0] + dx, rect[1] + dy, 120, 80]), np.uint8)
    assert np.array_equal(moved, before), "the pan did not move the picture it began with"
    page.mouse.up()
    assert page.evaluate("() => window.__m.state.snap === null")
    whole = np.asarray(page.evaluate(PIXELS, [rect[0] + dx, rect[1] + dy, 120, 80]), np.uint8)
    assert np.array_equal(whole, before), "the whole map drawn after the pan differs from the moved picture"
    xy = screen(page)  # every dot where the moved picture had it
    assert page.evaluate("() => window.__m.state.drawMs < 1e9")
    page.dblclick(".vx-over", position={"x": 5, "y": 5})
    after = screen(page)
    assert np.abs(after - xy).max() > 1  # the reset moved the view back: the pan had moved it


def test_hovering_decodes_the_z_under_the_pointer_as_torch_does(page) -> None:
    import torch

    from explorer import load_model

    model = load_model(REPO / "trained" / "mnist_vae2.safetensors")
    page.dblclick(".vx-over", position={"x": 5, "y": 5})
    box = page.locator(".vx-over").bounding_box()
    previews = []
    for fx, fy in [(0.4, 0.4), (0.6, 0.7)]:
        px, py = round(box["width"] * fx), round(box["height"] * fy)
        before = page.evaluate("() => window.__m.state.decodes")
        page.mouse.move(box["x"] + px, box["y"] + py)
        page.wait_for_function("(n) => window.__m.state.decodes > n", arg=before, timeout=10_000)
        z, at, img = page.evaluate("""() => { const S = window.__m.state, z = S.hover.z;
            return [z, S.toScreen(z[0], z[1]), S.decodeAt(z)]; }""")
        assert abs(at[0] - px) < 0.5 and abs(at[1] - py) < 0.5, (at, px, py)  # the z under the pointer
        with torch.no_grad():
            want = model.decode(torch.tensor([z], dtype=torch.float32)).mean.flatten().numpy()
        np.testing.assert_allclose(np.asarray(img, np.float32), want, atol=1e-4)
        previews.append(page.evaluate("() => window.__m.state.preview.toDataURL()"))
    assert previews[0] != previews[1], "the preview did not change with the pointer"
