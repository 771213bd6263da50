"""A class opening the map at once: N browser sessions load /map together on a fresh server, cold (an
empty file cache), warmed (`python -m explorer warm` run first), and warmed with one browser having opened the
map before the class (the server has imported and loaded everything); open -> map drawn for each, and the
server's peak memory.

    python -m benchmarks.map_open                   # 8 sessions, cold then warm (BENCHMARKS.md)
    python -m benchmarks.map_open --tsne            # mnist_vae50, each session chooses t-SNE: choice -> map
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.load_class import PeakRSS
from tests.browser_harness import REPO, VIEWPORT, AppServer, launch

TIMEOUT_S = 600
# Each page says when its map is drawn (a console line) instead of being asked ten times a second: eight pages
# polled through Playwright cost the machine about 3 CPU-s of the benchmark's own, on the 2 cores being measured.
# Components draw in shadow roots, so every shadow root is watched as it is made.
READY_SCRIPT = """(() => { let said = false;
  const check = (root) => { if (!said && root.querySelector(".vx-root[data-ready='1']")) {
    said = true; console.log("vx-map-drawn"); } };
  const watch = (root) => new MutationObserver(() => check(root)).observe(root,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"]});
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (o) { const r = attach.call(this, o); watch(r); return r; };
  watch(document); })();"""


def drawn_at(i: int, t0: dict, done: dict, tsne: bool):
    """Page i's console listener: its open -> map time, once, when its map says it is drawn."""
    def seen(msg) -> None:
        if msg.text == "vx-map-drawn" and not tsne:
            done.setdefault(i, time.perf_counter() - t0[i])
    return seen


def open_together(sessions: int, cache_dir: Path, log_path: Path, previsit: bool = False, tsne: bool = False) -> dict:
    """Every session asks for /map at once; seconds until each one's map reports itself drawn. previsit: one
    browser (the teacher) opens the map first and leaves, so the server has imported and loaded everything."""
    from playwright.sync_api import sync_playwright

    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(cache_dir)}
    if tsne:
        env["EXPLORER_DEFAULT_MODEL"] = "mnist_vae50"
    with AppServer(env=env, log_path=log_path) as server, PeakRSS(server.proc.pid) as rss, sync_playwright() as p:
        browser = launch(p)
        if previsit:
            ctx = browser.new_context(viewport=VIEWPORT)
            first = ctx.new_page()
            first.goto(f"{server.url}/map")
            first.locator(".vx-root[data-ready='1']").first.wait_for(timeout=TIMEOUT_S * 1000)
            ctx.close()
        pages, t0, done = [], {}, {}
        for i in range(sessions):
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.add_init_script(READY_SCRIPT)
            pages.append(ctx.new_page())
            pages[i].on("console", drawn_at(i, t0, done, tsne))
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


def warm(models: list[str], cache_dir: Path, projections: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "explorer", "warm", "--quiet", "--projections", projections, "--models",
                    *models], cwd=REPO, check=True,
                   env={**os.environ, "EXPLORER_CACHE_DIR": str(cache_dir)})
    return time.perf_counter() - t0


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
    rows["warm"] = open_together(a.sessions, tmp / "warm-cache", tmp / "warm.log", tsne=a.tsne)
    if not a.tsne:
        rows["warm, one visit first"] = open_together(a.sessions, tmp / "warm-cache", tmp / "visited.log", True)
    print(f"{a.sessions} sessions open /map at once; warm command took {warm_s:.1f} s")
    for name, r in rows.items():
        print(f"{name:22s} " + "  ".join(f"{k} {v:.1f}" for k, v in r.items()))


if __name__ == "__main__":
    main()
