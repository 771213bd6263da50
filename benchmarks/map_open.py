"""A class opening the map at once: N browser sessions load /map together on a fresh server, cold (an
empty file cache, nothing warmed), with the file cache warmed (`python -m explorer warm` run first), and with
the server warmed too (it opened /map itself as it started: EXPLORER_WARM_PAGES, the app's default); open -> map
drawn for each, and the server's peak memory.

    python -m benchmarks.map_open                   # 8 sessions: cold, file cache, server warmed (BENCHMARKS.md)
    python -m benchmarks.map_open --tsne            # mnist_vae50, each session chooses t-SNE: choice -> map
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.class_open import READY_SCRIPT, drawn_at, warm
from benchmarks.load_class import PeakRSS
from tests.browser_harness import REPO, VIEWPORT, AppServer, launch

TIMEOUT_S = 600


def open_together(sessions: int, cache_dir: Path, log_path: Path, warm_pages: str = "", tsne: bool = False) -> dict:
    """Every session asks for /map at once; seconds until each one's map reports itself drawn. warm_pages: the
    server's EXPLORER_WARM_PAGES (it opens them itself as it starts; waited for, as a class comes later)."""
    from playwright.sync_api import sync_playwright

    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(cache_dir),
           "EXPLORER_WARM_PAGES": warm_pages}
    if tsne:
        env["EXPLORER_DEFAULT_MODEL"] = "mnist_vae50"
    with AppServer(env=env, log_path=log_path) as server, PeakRSS(server.proc.pid) as rss, sync_playwright() as p:
        browser = launch(p)
        for page in filter(None, warm_pages.split(",")):
            server.wait_log(f"warmed /{page} in", TIMEOUT_S)
        pages, t0, done = [], {}, {}
        for i in range(sessions):
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.add_init_script(READY_SCRIPT)
            pages.append(ctx.new_page())
            if not tsne:  # a t-SNE run is timed from the choice, below
                pages[i].on("console", drawn_at(i, t0, done))
        for i, page in enumerate(pages):
            t0[i] = time.perf_counter()
            page.goto(f"{server.url}/map", wait_until="commit")
        if tsne:  # each session then asks for t-SNE: timed from that choice to the t-SNE map drawn
            for i, page in enumerate(pages):
                page.locator(".vx-root[data-ready='1']").first.wait_for(timeout=TIMEOUT_S * 1000)
                page.locator(".st-key-map_method [role='combobox']").click()
                page.get_by_role("option", name="t-SNE", exact=True).click()
                t0[i] = time.perf_counter()
        drawn = "t-SNE places only the points" if tsne else None
        deadline = time.monotonic() + TIMEOUT_S
        while len(done) < sessions and time.monotonic() < deadline:
            if tsne:
                for i, page in enumerate(pages):
                    if i not in done and page.get_by_text(drawn).count():
                        done[i] = time.perf_counter() - t0[i]
                time.sleep(0.1)
            else:
                pages[0].wait_for_timeout(100)  # the console events arrive while Playwright waits
        errors = sum(pg.get_by_test_id("stException").count() for pg in pages)
        browser.close()
    assert len(done) == sessions, f"only {len(done)} of {sessions} maps were drawn within {TIMEOUT_S} s"
    assert errors == 0 and "Traceback" not in log_path.read_text(errors="replace"), f"errors: see {log_path}"
    times = sorted(done.values())
    return {"open_to_map_s_median": statistics.median(times), "open_to_map_s_max": times[-1],
            "peak_rss_mb": rss.peak_kb / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--tsne", action="store_true",
                    help="open mnist_vae50 and choose t-SNE in every session; time that choice -> t-SNE map drawn")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vaex-map-open-"))
    models = [str(REPO / "trained" / ("mnist_vae50" if a.tsne else "mnist_vae2")) + ".safetensors"]
    rows = {"cold": open_together(a.sessions, tmp / "cold-cache", tmp / "cold.log", tsne=a.tsne)}
    warm_s = warm(models, tmp / "warm-cache", "tsne" if a.tsne else "pca")
    rows["file cache warmed"] = open_together(a.sessions, tmp / "warm-cache", tmp / "warm.log", tsne=a.tsne)
    rows["server warmed too"] = open_together(a.sessions, tmp / "warm-cache", tmp / "warmed.log",
                                              "map", tsne=a.tsne)
    print(f"{a.sessions} sessions open /map at once; warm command took {warm_s:.1f} s")
    for name, r in rows.items():
        print(f"{name:22s} " + "  ".join(f"{k} {v:.1f}" for k, v in r.items()))


if __name__ == "__main__":
    main()
