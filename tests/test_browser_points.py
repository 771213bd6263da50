"""MNIST's 70,000 images on the real app's map in headless Chromium (issue 24, item 3): "both splits" draws every
point, hovering decodes in the page, and a click on a training dot picks the nearest dot and shows that training
image beside the map. Needs MNIST's training files (tests/conftest.py: ../shared/data/mnist or EXPLORER_TEST_MNIST);
its own server, on the bundled mnist_vae2 and an empty cache folder, so the encoding is made here."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, missing_browser, wait_idle
from tests.conftest import SHARED_MNIST

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
              pytest.mark.skipif(not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                                 reason=f"MNIST's training files are not in {SHARED_MNIST}")]
TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    trained = tmp_path_factory.mktemp("trained")
    (trained / "mnist_vae2.safetensors").symlink_to(REPO / "trained" / "mnist_vae2.safetensors")
    server = AppServer(env={"EXPLORER_TRAINED_DIR": str(trained), "EXPLORER_DATA_DIR": str(SHARED_MNIST.parent),
                            "EXPLORER_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))},
                       log_path=REPO / "artifacts" / "streamlit-points.log")
    (REPO / "artifacts").mkdir(exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_both_splits_draw_70000_points_hover_decodes_and_a_training_dot_shows_its_image(app: AppServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app.url)
            page.locator(".vx-root[data-ready='1']").first.wait_for()
            wait_idle(page)
            t0 = time.perf_counter()
            page.locator(".st-key-map_points").get_by_text("both splits").click()
            root = page.locator(".vx-root").first  # a locator: the component's root is inside a shadow root
            while root.evaluate("r => r.__map && r.__map.coords ? r.__map.coords.length : 0") != 140_000:
                assert time.perf_counter() - t0 < TIMEOUT_MS / 1000, "the map never got 70,000 points"
                page.wait_for_timeout(200)
            wait_idle(page)
            opened = time.perf_counter() - t0
            box = page.locator(".vx-over").first.bounding_box()
            decodes = int(root.get_attribute("data-decodes") or 0)
            for i in range(20):  # a sweep across the map: each move decodes in the page
                page.mouse.move(box["x"] + 60 + i * (box["width"] - 120) / 19, box["y"] + box["height"] / 2 + 7 * i)
                page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
            assert int(root.get_attribute("data-decodes")) - decodes >= 10
            pts = root.evaluate("r => r.__map.screenCoords()")
            # a training dot (index 10,000 on: the test split comes first) inside the plot, and the dot nearest to it
            target = next(i for i in range(10_000, len(pts), 997)
                          if 80 < pts[i][0] < box["width"] - 80 and 60 < pts[i][1] < box["height"] - 60)
            px, py = pts[target]
            nearest = min(range(len(pts)), key=lambda i: (pts[i][0] - px) ** 2 + (pts[i][1] - py) ** 2)
            page.mouse.click(box["x"] + px, box["y"] + py)
            expect(page.locator(".st-key-map_index input")).to_have_value(str(nearest), timeout=TIMEOUT_MS)
            what = f"training image {nearest - 10_000} " if nearest >= 10_000 else f"test image {nearest} "
            expect(page.get_by_test_id("stImageCaption").filter(has_text=what)).to_be_visible(timeout=TIMEOUT_MS)
            print(f"both splits: 70,000 points drawn {opened:.1f} s after the choice (encoded in this run)")
        finally:
            browser.close()
