"""The Latent map's projector tools in headless Chromium: a lasso in the map's own component fills the
Selection tab, a hovered dot shows its image, an attribute vector shows its strength row and its path.
Screenshots go where tests/test_browser.py puts them (docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from tests import test_browser as base
from tests.browser_harness import REPO, AppServer, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect, TIMEOUT_MS = base.expect, base.TIMEOUT_MS
browser, page = base.browser, base.page  # the same browser fixtures
UPDATE = os.environ.get("UPDATE_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory) -> Path:
    """A small digits VAE with a 3-D latent (a PCA map and a 3-D view); for README screenshots
    (UPDATE_SCREENSHOTS=1) the repository's checkpoints too, and the app opens on mnist_vae50."""
    from explorer.cli import main

    d = tmp_path_factory.mktemp("trained")
    assert main(["train", "--dataset", "digits", "--hidden", "64", "--latent", "3", "--epochs", "5",
                 "--batch-size", "32", "--threads", "1", "--quiet", "--out", str(d / "digits_vae3.safetensors")]) == 0
    if UPDATE:
        for p in (REPO / "trained").glob("*.safetensors"):
            (d / p.name).symlink_to(p)
    return d


@pytest.fixture(scope="module")
def app(trained_dir: Path):
    server = AppServer(env={"EXPLORER_TRAINED_DIR": str(trained_dir),
                            "EXPLORER_DEFAULT_MODEL": "mnist_vae50" if UPDATE else "digits_vae3"},
                       log_path=base.ARTIFACTS.parent / "streamlit-tools.log", count_runs=True)
    base.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def open_tool(page, name: str) -> None:
    """A button of the tool picker under the map."""
    page.locator(".st-key-map_tool button", has_text=name).first.click()


def marks(page, until: str = "true") -> dict:
    """What the map draws now: the header's marks and the entries of its key, once the JS condition `until`
    on its header h holds (a new payload of thousands of images takes a moment to arrive)."""
    js = ("r => { const S = r.__map, h = S.header; return {ok: !!(" + until + "), path: (h.path || []).length, "
          "lines: (h.lines_latent || []).length, key: S.keyShown || []}; }")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        got = page.locator(".vx-root").first.evaluate(js)
        if got.pop("ok") or time.monotonic() > deadline:
            return got
        page.wait_for_timeout(200)


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
    page.wait_for_timeout(1000)  # the page settles (a late rerun can move the map) before the loop is drawn
    wait_idle(page)
    box = page.locator(".vx-over").first.bounding_box()
    pts = page.locator(".vx-root").first.evaluate("r => r.__map.screenCoords()")
    cx, cy, r = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, 90
    lasso(page, cx, cy, r)
    inside = page.locator(".vx-root").first.evaluate("r => r.__map.sel.size")
    assert page.locator(".vx-over").first.bounding_box() == box, "the map moved while the loop was drawn"
    d2 = [(box["x"] + x - cx) ** 2 + (box["y"] + y - cy) ** 2 for x, y in pts]
    well_in, near = sum(d < (r * 0.95) ** 2 for d in d2), sum(d < (r * 1.01) ** 2 for d in d2)
    assert 0 < well_in <= inside <= near, (well_in, inside, near)  # the loop's dots, and none far outside it
    open_tool(page, "Selection")
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
    page.locator(".st-key-map_tool").first.scroll_into_view_if_needed()
    base.shot(page, "map-selection")
    assert marks(page) == {"path": 0, "lines": 0, "key": []}  # no tool of lines or paths is open
    open_tool(page, "Attribute vector")
    expect(page.get_by_test_id("stImageCaption").filter(has_text="+2.0")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    got = marks(page, "(h.path || []).length > 0")
    assert got["path"] == 18 and got["lines"] == 0  # nine strengths, x and y each; no neighbour lines
    assert got["key"] == ["attribute vector, strength −2 … +2 (ring: +2)"]
    open_tool(page, "Neighbours")
    expect(page.get_by_text("Euclidean distance between posterior means")).to_be_visible()
    wait_idle(page)
    got = marks(page, "(h.lines_latent || []).length > 0")
    assert got["lines"] == 8 * 4 and got["path"] == 0
    assert got["key"] == ["latent neighbours (nearest codes)", "pixel neighbours (nearest images)"]
    base.shot(page, "map-neighbours")


def test_the_3d_view_rotates(app, page) -> None:
    base.open_page(page, app, "", ".vx-root[data-ready='1']")
    page.get_by_role("tab", name="3-D view").click()
    plot = page.locator(".st-key-map_3d .js-plotly-plot").first
    expect(plot).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("three leading principal axes")).to_be_visible()
    n = page.locator(".vx-root").first.evaluate("r => r.__map.n")
    shown = plot.evaluate("gd => gd._fullData.filter((t) => t.name !== 'chosen').reduce((s, t) => s + t.x.length, 0)")
    assert shown == n  # the same points as the 2-D map
    # the live camera (Plotly copies it into the layout only when the gesture's relayout event is handled)
    camera = "gd => JSON.stringify(gd._fullLayout.scene._scene.getCamera().eye)"
    before = plot.evaluate(camera)
    for _ in range(3):  # a drag that lands while the scene is still being (re)drawn turns nothing: drag again
        box = plot.bounding_box()
        x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 11):
            page.mouse.move(x + 12 * i, y + 4 * i)
            page.wait_for_timeout(30)
        page.mouse.up()
        page.wait_for_timeout(500)
        if plot.evaluate(camera) != before:
            break
    assert plot.evaluate(camera) != before, "dragging did not turn the 3-D view"
    base.shot(page, "map-3d")
