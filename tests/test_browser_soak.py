"""Memory returned (issue 25, item 5): a real server, a checkpoint of tens of MB uploaded into a new tab and the
tab closed, 20 times over. Once each closed session has ended (a short server.disconnectedSessionTTL), the
server's resident memory after the 20th must be within 10% of its level after the first: nothing an upload
brought (the file, the model, its encodings, the map's blob) may stay behind its last session."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.store.checkpoint import save_model
from tests.browser_harness import VIEWPORT, AppServer, launch, missing_browser, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser()
if why:
    pytest.skip(f"browser test skipped: {why}", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

ROUNDS = 20
TTL_S = 1  # seconds a closed tab's session is kept for a reconnect (Streamlit's default is 120)
WIDTH = 3000  # one hidden layer: 4.7 M weights, a 19 MB checkpoint: above the 16 MB that the heap maps apart (jobs/heap.py)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(l for l in f if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def settled_rss_mb(pid: int, wait_s: float) -> float:
    """RSS once the closed session has had time to end and be cleaned up (the lowest of a few readings)."""
    deadline, low = time.monotonic() + wait_s, rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        low = min(low, rss_mb(pid))
    return low


def wide_checkpoint(folder: Path, width: int = WIDTH) -> Path:
    return save_model(build_model(ModelConfig(latent_dim=2, hidden=(width,))), folder / "wide.safetensors",
                      dataset={"name": "mnist"})


def soak(folder: Path, ckpt: Path, rounds: int, settled: set[int]) -> list[float]:
    """Upload ckpt into a new tab of a fresh server and close the tab, `rounds` times; the server's RSS after each
    (in MB), after the session has ended for the rounds in `settled` (the others show the trend only)."""
    (folder / "trained").mkdir(exist_ok=True)
    env = {"EXPLORER_TRAINED_DIR": str(folder / "trained"), "EXPLORER_CACHE_DIR": str(folder / "cache"),
           "EXPLORER_SAVES_DIR": str(folder / "saved"), "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(TTL_S)}
    series: list[float] = []
    with AppServer(env=env, log_path=folder / "server.log") as server, sync_playwright() as p:
        browser = launch(p)
        try:
            for i in range(rounds):
                upload_and_close(browser, server.url, ckpt)
                series.append(settled_rss_mb(server.proc.pid, TTL_S + 2.5 if i in settled else 0))
        finally:
            browser.close()
    return series


def upload_and_close(browser: Any, url: str, ckpt: Path) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/map")
    page.locator("[data-testid='stSidebar'] input[type='file']").first.set_input_files(str(ckpt))
    page.wait_for_selector(".vx-root[data-ready='1']")  # encoded, projected, blob sent and drawn
    wait_idle(page)
    context.close()


def test_uploads_give_their_memory_back_when_their_tabs_close(tmp_path) -> None:
    ckpt = wide_checkpoint(tmp_path)
    assert ckpt.stat().st_size > 16 * 2**20
    t0 = time.monotonic()
    series = soak(tmp_path, ckpt, ROUNDS, {0, ROUNDS - 1})
    print(f"RSS after each upload and close (MB): {[round(r) for r in series]}; {time.monotonic() - t0:.0f} s")
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-2000:]
    assert series[-1] <= 1.10 * series[0], f"RSS grew from {series[0]:.0f} MB to {series[-1]:.0f} MB: {series}"
