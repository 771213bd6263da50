"""A model trained elsewhere in a real browser: a server whose trained/ holds a .vaex opens on it, the card says
where it came from, hovering its map decodes in the page (its ONNX graphs read into the page's layers: at least
30 distinct pictures in a sweep, no rerun), and every page draws without an exception."""
from __future__ import annotations

import pytest

import explorer
from tests.browser_harness import VIEWPORT, AppServer, launch, missing_browser, wait_idle
from tests.test_browser import hover_sweep
from tests.test_app_vaex import PAGES, imported

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser()
if why:
    pytest.skip(f"browser test skipped: {why}", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

TIMEOUT_MS = 300_000


def test_an_imported_model_opens_and_every_page_draws(tmp_path) -> None:
    trained = tmp_path / "trained"
    explorer.save_model(imported(2), trained / "imported.vaex")
    env = {"EXPLORER_TRAINED_DIR": str(trained), "EXPLORER_DEFAULT_MODEL": "imported",
           "EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "EXPLORER_SAVES_DIR": str(tmp_path / "saved")}
    with AppServer(env=env, log_path=tmp_path / "server.log", count_runs=True) as server, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{server.url}/map")
            expect(page.get_by_text("VAE · trained elsewhere · latent")).to_be_visible()
            expect(page.get_by_text("imported from PyTorch", exact=False).first).to_be_visible()
            page.wait_for_selector(".vx-root[data-ready='1']")
            wait_idle(page, 300)
            assert page.get_by_text("The decoder runs on the server for this model", exact=False).count() == 0
            runs = server.runs()
            seen = hover_sweep(page)
            assert len(set(seen)) >= 30, f"only {len(set(seen))} distinct decoded images in a 60-step sweep"
            assert int(page.locator(".vx-root").first.get_attribute("data-decodes")) >= 30
            page.wait_for_timeout(1000)
            assert server.runs() == runs, "hovering reran the script"
            for name in PAGES:
                page.goto(f"{server.url}/{name}")
                page.wait_for_timeout(1500)
                wait_idle(page, 300)
                expect(page.get_by_test_id("stMain")).to_be_visible()
                assert page.get_by_test_id("stException").count() == 0, name
                if name == "train":
                    expect(page.get_by_text("was trained elsewhere: training and resuming", exact=False)).to_be_visible()
        finally:
            browser.close()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-2000:]


def test_your_own_images_give_a_nameless_model_its_map(tmp_path) -> None:
    """A model that names no data set: the sidebar's "Your images" takes an .npz upload and the map draws its
    points, hover-decoding in the page; a file of the wrong size gets one line."""
    import numpy as np

    from explorer.data import load_dataset

    trained = tmp_path / "trained"
    explorer.save_model(imported(2, dataset=None), trained / "nameless.vaex")
    d = load_dataset("mnist", test_only=True)
    np.savez(tmp_path / "mine.npz", images=(d.test_x[:300, 0].numpy() * 255).astype(np.uint8),
             labels=d.test_y[:300].numpy())
    np.save(tmp_path / "wrong.npy", np.zeros((4, 8, 8), np.uint8))
    env = {"EXPLORER_TRAINED_DIR": str(trained), "EXPLORER_DEFAULT_MODEL": "nameless",
           "EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "EXPLORER_SAVES_DIR": str(tmp_path / "saved")}
    with AppServer(env=env, log_path=tmp_path / "server.log") as server, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{server.url}/map")
            expect(page.get_by_text("Your images", exact=False).first).to_be_visible()
            upload = page.locator("[data-testid='stSidebar'] input[type='file']").last
            upload.set_input_files(str(tmp_path / "wrong.npy"))
            expect(page.get_by_text("but the model takes 1x28x28", exact=False)).to_be_visible()
            upload.set_input_files(str(tmp_path / "mine.npz"))
            page.wait_for_selector(".vx-root[data-ready='1']")
            wait_idle(page, 300)
            n = page.locator(".vx-root").first.evaluate("r => r.__map.coords.length / 2")
            assert n == 300
            assert len(set(hover_sweep(page, 20))) >= 10
            assert page.get_by_test_id("stException").count() == 0
        finally:
            browser.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
