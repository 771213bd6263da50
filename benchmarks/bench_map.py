"""The latent map at the size of real data sets (issue 24), measured in headless Chromium.

The page's own map (`mountMap` from explorer/web/latent_map.js, bundled as the app bundles it) is mounted alone in a
blank page at 1000 x 560 CSS px, fed a map_payload blob (explorer/web/payload.py) of the bundled mnist_vae2's
decoder and N synthetic 2-D codes (ten Gaussian clusters, labels 0..9), and, with --mnist, MNIST's 70,000 codes
(train and test, encoded by mnist_vae2). For each size:

- open: from the page's fetch of the blob to the second animation frame after load() (the map drawn);
- pan, zoom: frame time while a drag pans (the pan tool) and while Ctrl+wheel zooms: for each event the page
  handles, its handler's time plus how far the next frame (where the canvas is rasterised) overran one
  display period; median and p95 (a map whose whole picture takes over a display period moves that picture while it pans:
  map_view.js panRedraw; "whole picture at release" is the draw of every point when the button comes up);
- hover: the map's own stats.frame (pointer event -> decoded image and cross drawn), sweeping the pointer;
- zoomed in (--tiles-runs): Ctrl+wheel over a point until the map draws each point in view as a tile
  (map_tiles.js), then pans there with the decoded tiles and with the dots (the map's control), in turns;
- bytes: the blob, sent once per map;
- click: the bytes the app's websocket carries to the page for one click on a dot, in the real app (streamlit run,
  mnist_vae2 on MNIST's 10,000 test images): the star and marks travel in their own component, and the map's
  unchanged element as a reference to the browser's copy (tests/browser_harness.py click_bytes;
  tests/test_browser_click.py holds it under 10 KB).

    python -m benchmarks.bench_map [--sizes 10000,100000,1000000] [--mnist] [--moves 60] [--no-click] [--tiles-runs 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from tests.browser_harness import REPO, AppServer, add_module, click_bytes, count_frames, launch, missing_browser, wait_idle

URL = "http://vx.bench/"
PAGE = "<!doctype html><html><body style='margin:0'><div id='root' style='width:1000px'></div></body></html>"
ENTRY = 'import { mountMap } from "./latent_map.js"; window.mountMap = mountMap;'
OPEN = """async () => {
    const t0 = performance.now();
    const blob = new Uint8Array(await (await fetch('/blob')).arrayBuffer());
    const root = document.getElementById('root');
    window.__m = window.mountMap(root);
    if (!window.__m.load(blob)) throw new Error(root.textContent);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0; }"""
# each handled event's frame: the handler's own time (a capture listener on window to a bubbling one) plus how far
# the frame after it overran one display period (the canvas is rasterised between those animation frames)
FRAMES_START = """(kind) => { const W = window.__frames = { ticks: [], ev: [], on: true };
    addEventListener(kind, () => { W.t0 = performance.now(); }, { capture: true });
    addEventListener(kind, () => { W.ev.push([W.t0, performance.now()]); });
    const tick = (t) => { W.ticks.push(performance.now()); if (W.on) requestAnimationFrame(tick); };
    requestAnimationFrame(tick); }"""
FRAMES_STOP = """() => { const W = window.__frames; W.on = false; const out = [];
    for (const [a, b] of W.ev) { const k = W.ticks.findIndex((t) => t >= b);
        if (k >= 0 && k + 1 < W.ticks.length) out.push(b - a + Math.max(0, W.ticks[k + 1] - W.ticks[k] - 1000 / 60)); }
    return out; }"""


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 2-D codes in ten Gaussian clusters on a ring (like a 2-D VAE's MNIST codes), labels 0..9."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    angle = labels * (2 * np.pi / 10)
    centres = np.stack([1.8 * np.cos(angle), 1.8 * np.sin(angle)], 1)
    return (centres + rng.normal(0, 0.45, (n, 2))).astype(np.float32), labels


def mnist_codes(model) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 70,000 images (train then test) encoded by the model: posterior means, labels."""
    import torch

    from explorer.data.mnist import load_mnist
    from explorer.model.encoding import encode

    ds = load_mnist(os.environ.get("EXPLORER_DATA_DIR", REPO.parent.parent / "shared" / "data" / "mnist"),
                    download=False)
    x, y = torch.cat([ds.train_x, ds.test_x]), torch.cat([ds.train_y, ds.test_y])
    return encode(model, x, batch_size=5000).mean.astype(np.float32), y.numpy()


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def gesture(page, box: dict, moves: int, kind: str, budget_s: float = 30.0) -> list[float]:
    """Frame intervals (ms) while panning (a drag) or zooming (Ctrl+wheel) over the middle of the plot."""
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    if kind == "pan":
        page.mouse.down()
    else:
        page.keyboard.down("Control")
    page.evaluate(FRAMES_START, "pointermove" if kind == "pan" else "wheel")
    t0 = time.monotonic()
    for i in range(moves):
        if kind == "pan":  # back and forth: the view ends where it began
            step = 6 if (i // 10) % 2 == 0 else -6
            page.mouse.move(cx + step * ((i % 10) + 1), cy + step * ((i % 10) + 1) / 2)
        else:
            page.mouse.wheel(0, 100 if (i // 5) % 2 == 0 else -100)
        if time.monotonic() - t0 > budget_s:
            break
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => requestAnimationFrame(r))))")
    frames = page.evaluate(FRAMES_STOP)
    if kind == "pan":
        page.mouse.up()
    else:
        page.keyboard.up("Control")
    return frames


def hover(page, box: dict, moves: int, budget_s: float = 30.0) -> list[float]:
    page.evaluate("() => { window.__m.state.stats.frame.length = 0; }")
    t0 = time.monotonic()
    for i in range(moves):
        t = (i % 50) / 49
        page.mouse.move(box["x"] + 60 + t * (box["width"] - 90), box["y"] + 20 + ((i // 50) * 37 + t * 300) % (box["height"] - 60))
        if time.monotonic() - t0 > budget_s:
            break
    return page.evaluate("() => window.__m.state.stats.frame.slice()")


def map_page(ctx, blob: bytes, errors: list[str] | None = None):
    """A blank page (in a browser or a context) serving blob at /blob, with the map's CSS and window.mountMap."""
    page = ctx.new_page(viewport={"width": 1100, "height": 800}) if hasattr(ctx, "contexts") else ctx.new_page()
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(URL + "blob", lambda r: r.fulfill(body=blob, content_type="application/octet-stream"))
    page.route(URL, lambda r: r.fulfill(body=PAGE, content_type="text/html"))
    page.goto(URL)
    page.add_style_tag(content=(REPO / "explorer" / "web" / "latent_map.css").read_text())
    add_module(page, ENTRY)
    return page


def zoom_in(page, index: int = 0, turns: int = 60) -> int:
    """Ctrl+wheel over point index until the map draws tiles (few points in view; map_tiles.js) and every tile
    in view is made; the wheel turns it took."""
    page.keyboard.down("Control")
    for k in range(turns):
        if page.evaluate("() => window.__m.state.tiles.on"):
            break
        box = page.locator(".vx-over").bounding_box()
        x, y = page.evaluate("(i) => { const S = window.__m.state; "
                             "return S.toScreen(S.coords[2 * i], S.coords[2 * i + 1]); }", index)
        page.mouse.move(box["x"] + min(max(x, 60), box["width"] - 20), box["y"] + min(max(y, 20), box["height"] - 40))
        page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function("() => { const T = window.__m.state.tiles; return T.on && !T.missing.length; }",
                           timeout=30_000)
    return k


def measure(browser, blob: bytes, moves: int) -> dict:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page = map_page(ctx, blob, errors)
    out = {"open": page.evaluate(OPEN) / 1000, "bytes": len(blob)}
    box = page.locator(".vx-over").bounding_box()
    page.locator(".vx-btn", has_text="pan").first.click()
    out["pan"] = gesture(page, box, moves, "pan")
    out["release"] = page.evaluate("() => window.__m.state.drawMs")  # the whole picture drawn when the pan ends
    page.dblclick(".vx-over", position={"x": 5, "y": 5})  # reset the view
    out["zoom"] = gesture(page, box, moves // 2, "zoom")
    out["hover"] = hover(page, box, moves * 2)
    out["errors"] = errors
    ctx.close()
    return out


def app_click(browser) -> tuple[int, int]:
    """(bytes the app sends to open the Latent map on mnist_vae2, bytes for one click on a dot)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "mnist_vae2.safetensors").symlink_to(REPO / "trained" / "mnist_vae2.safetensors")
        with AppServer(env={"EXPLORER_TRAINED_DIR": d}) as app:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            sizes = count_frames(page)
            page.goto(app.url)
            page.locator(".vx-root[data-ready='1']").first.wait_for(timeout=300_000)
            wait_idle(page)
            page.wait_for_timeout(1000)
            opened = sum(sizes)
            sent, before, after = click_bytes(page, sizes)
            page.close()
    if after == before:
        raise RuntimeError("the click did not move the star")
    return opened, sent


# from the decoded tiles chosen, none made yet, to every tile in view made (the page's own rAF clock)
FILL = """async () => { const S = window.__m.state; S.tiles.cache.clear(); const t0 = performance.now();
    S.tileSelect.value = '2'; S.tileSelect.dispatchEvent(new Event('change'));
    await new Promise((r) => { const f = () => (S.tiles.on && !S.tiles.missing.length ? r() : requestAnimationFrame(f)); f(); });
    return performance.now() - t0; }"""


def tiles_pan(browser, blob: bytes, moves: int, runs: int) -> dict:
    """Zoomed in until tiles are drawn (map_tiles.js): the time to make every decoded tile in view, then pan
    frame times with the decoded tiles and, at the same view, with the dots (the map's control set to dots), in
    turns: each run's median, all frames of each, and the tiles in view."""
    from explorer.web.payload import TILE_SOURCES

    page = map_page(browser, blob)
    page.evaluate(OPEN)
    page.locator(".vx-btn", has_text="pan").first.click()
    zoom_in(page)
    box = page.locator(".vx-over").bounding_box()
    out: dict = {"tiles": [], "dots": [], "frames": {"tiles": [], "dots": []}, "fill": page.evaluate(FILL),
                 "in_view": page.evaluate("() => window.__m.state.tiles.drawn.length")}
    for _ in range(runs):
        for name, key in (("tiles", "decoded"), ("dots", "dots")):
            page.select_option(".vx-tiles", str(TILE_SOURCES[key]))
            page.wait_for_function("(on) => { const T = window.__m.state.tiles; return T.on === on && !T.missing.length; }",
                                   arg=name == "tiles", timeout=30_000)
            frames = gesture(page, box, moves, "pan")
            out[name].append(statistics.median(frames))
            out["frames"][name] += frames
    page.close()
    return out


def runs(t: dict, kind: str) -> str:
    """tiles_pan's figures for one kind: the median of the runs' medians, each run's, and the p95 of all."""
    each = ", ".join(f"{x:.1f}" for x in t[kind])
    return f"{statistics.median(t[kind]):.1f} ms ({each}; p95 of all {quantile(t['frames'][kind], 0.95):.1f} ms)"


def report(label: str, r: dict) -> None:
    s = lambda xs: f"median {statistics.median(xs):.1f} ms p95 {quantile(xs, 0.95):.1f} ms ({len(xs)})"  # noqa: E731
    print(f"{label}: pan {s(r['pan'])}, whole picture at release {r['release']:.1f} ms; zoom {s(r['zoom'])}; "
          f"hover {s(r['hover'])}; open {r['open']:.2f} s; "
          f"blob {r['bytes']:,} bytes" + (f"; ERRORS {r['errors']}" if r["errors"] else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="numbers of synthetic points, comma-separated")
    p.add_argument("--mnist", action="store_true", help="also MNIST's 70,000 codes (needs the full MNIST files)")
    p.add_argument("--no-click", action="store_true", help="skip the app's bytes per click (starts the app)")
    p.add_argument("--moves", type=int, default=60, help="pointer events per pan (half as many wheel turns)")
    p.add_argument("--tiles-runs", type=int, default=3,
                   help="zoomed in until tiles show: pans with tiles, then with dots, this many times in turns (0: none)")
    args = p.parse_args()
    why = missing_browser()
    if why:
        sys.exit(f"cannot run: {why}")
    from playwright.sync_api import sync_playwright

    from explorer import load_model
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    model = load_model(REPO / "trained" / "mnist_vae2.safetensors")
    proj = make_projection("axes")
    cases = [(f"{int(n):,} synthetic", *synthetic(int(n))) for n in args.sizes.split(",")]
    if args.mnist:
        cases.insert(1, ("70,000 MNIST", *mnist_codes(model)))
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    results = {}
    with sync_playwright() as pw:
        browser = launch(pw)
        for label, coords, labels in cases:
            blob = map_payload(model, proj, coords, labels, coords)
            results[label] = r = measure(browser, blob, args.moves)
            report(label, r)
            if args.tiles_runs and "synthetic" in label:
                t = tiles_pan(browser, blob, args.moves, args.tiles_runs)
                print(f"{label} zoomed in ({t['in_view']} tiles in view, all decoded in {t['fill']:.0f} ms): pan "
                      f"median of {args.tiles_runs} run medians, tiles {runs(t, 'tiles')}, dots {runs(t, 'dots')}")
        click = None
        if not args.no_click:
            opened, click = app_click(browser)
            print(f"app (mnist_vae2, 10,000 MNIST test images): open {opened:,} bytes on the websocket, "
                  f"bytes sent per click {click:,}")
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    big = results.get("1,000,000 synthetic")
    if big:
        print(f"map: 1M pan median {statistics.median(big['pan']):.0f} ms p95 {quantile(big['pan'], 0.95):.0f} ms, "
              f"hover median {statistics.median(big['hover']):.0f} ms, open {big['open']:.1f} s, "
              f"click {click if click is not None else '-'} bytes")


if __name__ == "__main__":
    main()
