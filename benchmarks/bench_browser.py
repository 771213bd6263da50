"""What a user waits for, measured in a real browser (headless Chromium driving `streamlit run`).

1. open: from page.goto() on a fresh session to the sidebar's first control, the Latent map drawn,
   and the script idle.
2. slider: from the key press on a decoder slider to the new decoded image loaded on screen,
   timed inside the page (keydown listener -> requestAnimationFrame poll of the <img>).
3. --throughput: training samples/s inside the app (the Train page's figure, the mean of the
   trainer's epoch records, with the page polling it live) against `python -m explorer train`
   with the same config, alternating app and CLI runs.

    python -m benchmarks.bench_browser --reps 7                      (from the repository root)
    python -m benchmarks.bench_browser --reps 0 --throughput --data-dir ../shared/data/mnist --threads 1 [--pin]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, missing_browser, wait_idle

MAP_READY = "[class*='st-key-latent_map'] .js-plotly-plot"
FIRST_WIDGET = ".st-key-model_source input"  # the sidebar's first control
CAPTION = "mean of p(x | z)"

WATCH_IMAGE = """(caption) => {
    const img = () => { for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
        const c = el.querySelector('[data-testid="stImageCaption"]');
        if (c && c.textContent.includes(caption)) return el.querySelector('img'); } return null; };
    const first = img();
    if (!first) return false;  // mid-redraw: the caller waits and tries again
    const old = first.src;
    window.__t0 = null; window.__t1 = null;
    document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, {once: true, capture: true});
    const poll = () => { const el = img();
        if (el && el.src !== old && el.complete && el.naturalWidth > 0) window.__t1 = performance.now();
        else requestAnimationFrame(poll); };
    requestAnimationFrame(poll);
    return true; }"""


def time_open(browser, url: str, reps: int) -> list[tuple[float, float, float]]:
    """Seconds from navigation to (the first widget usable, the map drawn, the page idle); a new
    session each."""
    out = []
    for _ in range(reps):
        ctx = browser.new_context(viewport=VIEWPORT)
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(url)
        page.locator(FIRST_WIDGET).first.wait_for(timeout=300_000)
        first = time.perf_counter() - t0
        page.locator(MAP_READY).first.wait_for(timeout=300_000)
        page.wait_for_function("(sel) => { const g = document.querySelector(sel); return g && g._fullData; }",
                               arg=MAP_READY, timeout=300_000)
        drawn = time.perf_counter() - t0
        wait_idle(page, 300)
        out.append((first, drawn, time.perf_counter() - t0))
        ctx.close()
    return out


def time_slider(browser, url: str, reps: int) -> list[float]:
    """Milliseconds from a slider key press to the new image loaded, alternating directions."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/page_decoder")
    page.locator(".st-key-dec_s0 [data-testid='stSlider']").wait_for(timeout=300_000)
    wait_idle(page, 300)
    thumb = page.locator(".st-key-dec_s0 input[type='range']")
    out = []
    for i in range(reps):
        while not page.evaluate(WATCH_IMAGE, CAPTION):
            time.sleep(0.05)
        thumb.focus()
        thumb.press("PageUp" if i % 2 == 0 else "PageDown")  # a large step: the image must change
        page.wait_for_function("() => window.__t1 !== null", timeout=120_000)
        out.append(page.evaluate("() => window.__t1 - window.__t0"))
        wait_idle(page, 120)
    ctx.close()
    return out


def app_throughput(browser, url: str, epochs: int) -> float:
    """Train MNIST with the page's defaults (MLP 400, latent 2, batch 128) and read samples/s."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/page_train")
    page.locator(".st-key-train_start button").wait_for(timeout=300_000)
    wait_idle(page, 300)
    choose(page, "train_dataset", "mnist")
    box = page.locator(".st-key-train_epochs input")
    box.fill(str(epochs))
    box.press("Tab")
    page.locator(".st-key-train_start button").click()
    done = page.get_by_test_id("stProgress").filter(has_text=re.compile(r"^(Finished|Failed|Diverged)"))
    done.wait_for(timeout=3_600_000)
    text = done.inner_text()
    ctx.close()
    m = re.search(r"([\d,]+) samples/s", text)
    if not text.startswith("Finished") or not m:
        raise RuntimeError(f"the app's training did not finish: {text!r}")
    return float(m.group(1).replace(",", ""))


def choose(page, key: str, option: str, tries: int = 3) -> None:
    """Pick a selectbox option; the dropdown can close under a rerun, so open it again if so."""
    for i in range(tries):
        page.locator(f".st-key-{key}").click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except Exception:
            if i == tries - 1:
                raise
            page.keyboard.press("Escape")


def cli_throughput(data_dir: str, epochs: int, threads: int, cpus: set[int] | None = None) -> float:
    with tempfile.TemporaryDirectory() as d:
        metrics = Path(d) / "m.json"
        subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "mnist", "--data-dir", data_dir,
                        "--epochs", str(epochs), "--threads", str(threads), "--quiet", "--out",
                        str(Path(d) / "m.safetensors"), "--metrics-out", str(metrics)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                       preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        rates = [e["samples_per_sec"] for e in json.loads(metrics.read_text())["epochs"]]
    return sum(rates) / len(rates)  # the same figure the page shows: mean over the run's epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7, help="repetitions of the open and slider timings")
    p.add_argument("--trained-dir", default=str(REPO / "trained"), help="checkpoints the app offers")
    p.add_argument("--throughput", action="store_true", help="also compare training samples/s with the CLI")
    p.add_argument("--throughput-reps", type=int, default=2)
    p.add_argument("--data-dir", default=os.environ.get("EXPLORER_DATA_DIR"), help="full MNIST, for --throughput")
    p.add_argument("--epochs", type=int, default=1, help="--throughput: epochs per run")
    p.add_argument("--threads", type=int, default=1, help="--throughput: CPU threads, app and CLI alike")
    p.add_argument("--pin", action="store_true",
                   help="server and CLI on core 0, the browser on core 1: as if the browser ran on the "
                        "user's own machine (needs 2+ cores)")
    args = p.parse_args()
    why = missing_browser()
    if why:
        sys.exit(f"cannot run: {why}")
    from playwright.sync_api import sync_playwright

    env = {"EXPLORER_TRAINED_DIR": args.trained_dir, "EXPLORER_TRAIN_THREADS": str(args.threads)}
    if args.data_dir:
        env["EXPLORER_DATA_DIR"] = str(Path(args.data_dir).resolve())
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    server_cpus = {0} if args.pin else None
    with AppServer(env=env, cpus=server_cpus) as server, sync_playwright() as pw:
        if args.pin:
            os.sched_setaffinity(0, {1})  # before launch: the driver and Chromium inherit it
        browser = launch(pw)
        if args.reps:
            opens = time_open(browser, server.url, args.reps + 1)
            for i, what in enumerate(("first widget (sidebar) usable", "Latent map drawn", "script idle")):
                warm = [o[i] for o in opens[1:]]
                print(f"open -> {what}: first (cold server) {opens[0][i]:.2f} s; then median "
                      f"{statistics.median(warm):.2f} s over {args.reps} ({', '.join(f'{t:.2f}' for t in warm)})")
            lat = time_slider(browser, server.url, args.reps + 1)[1:]  # the first warms the caches
            print(f"slider -> new image on screen: median {statistics.median(lat):.0f} ms over {len(lat)} "
                  f"({', '.join(f'{t:.0f}' for t in lat)})")
        if args.throughput:
            if not args.data_dir:
                sys.exit("--throughput needs --data-dir (full MNIST) or EXPLORER_DATA_DIR")
            ratios = []
            for i in range(args.throughput_reps):
                app = app_throughput(browser, server.url, args.epochs)
                cli = cli_throughput(str(Path(args.data_dir).resolve()), args.epochs, args.threads, server_cpus)
                ratios.append(app / cli)
                print(f"run {i + 1}: app {app:,.0f} samples/s, CLI {cli:,.0f} samples/s, app/CLI {app / cli:.2f}")
            print(f"app/CLI median {statistics.median(ratios):.2f} over {len(ratios)} runs")
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
