"""The wait for a t-SNE map, in real browsers: a progress bar says which iteration it is on while it fits,
every session asking for the same map sees that one fit's progress, and the map follows."""
from __future__ import annotations

import re

import pytest

from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, missing_browser, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser()
if why:
    pytest.skip(f"browser test skipped: {why}", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

TIMEOUT_MS = 300_000
ITERATION = re.compile(r"Fitting t-SNE on 2,000 points \(iteration \d+ of 500\)")


def choose_tsne(page, url: str) -> None:
    page.goto(f"{url}/map")
    page.locator(".vx-root[data-ready='1']").first.wait_for(timeout=TIMEOUT_MS)  # the PCA map first
    wait_idle(page, 300)
    page.locator(".st-key-map_method [role='combobox']").click()
    page.get_by_role("option", name="t-SNE", exact=True).click()


def test_tsne_progress_is_shown_while_it_fits_to_every_session_waiting(tmp_path) -> None:
    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_DEFAULT_MODEL": "mnist_vae50",
           "EXPLORER_CACHE_DIR": str(tmp_path / "cache")}  # a cold cache: this server fits the map itself
    with AppServer(env=env, log_path=tmp_path / "server.log") as server, sync_playwright() as p:
        browser = launch(p)
        pages = [browser.new_context(viewport=VIEWPORT).new_page() for _ in range(2)]
        for page in pages:
            page.set_default_timeout(TIMEOUT_MS)
        choose_tsne(pages[0], server.url)
        bar = pages[0].get_by_test_id("stProgress").filter(has_text=ITERATION)
        expect(bar).to_be_visible(timeout=TIMEOUT_MS)
        first = bar.inner_text()
        choose_tsne(pages[1], server.url)  # a second student asks for the same map while it is being fitted
        expect(pages[1].get_by_test_id("stProgress").filter(has_text=ITERATION)).to_be_visible(timeout=TIMEOUT_MS)
        later = next(iter(bar.all_inner_texts()), "")  # read now: a locator read would wait if the fit ended
        for page in pages:
            expect(page.get_by_text("t-SNE places only the points it was fitted on")).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.get_by_test_id("stProgress").filter(has_text=ITERATION)).to_have_count(0)
        assert page.get_by_test_id("stException").count() == 0
        browser.close()
    fitted = int(re.search(r"iteration (\d+)", first).group(1))
    assert not later or int(re.search(r"iteration (\d+)", later).group(1)) >= fitted  # it moves on, never back
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
