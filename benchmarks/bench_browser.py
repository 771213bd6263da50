"""What a user waits for, measured in a real browser (headless Chromium driving `streamlit run`).

1. open: from page.goto() on a fresh session to the sidebar's first control, the Latent map drawn,
   and the script idle.
2. slider: from the key press on a decoder slider to the new decoded image loaded on screen,
   timed inside the page (keydown listener -> requestAnimationFrame poll of the <img>).
3. --hover: the model in the page. Sweeps the pointer over the Latent map and reads the page's own clock:
   frame = pointer event (event.timeStamp) to the decoded image and crosshair drawn on their canvases (Chromium
   delivers pointermove aligned to its animation frames, so this includes the wait for that frame; the
   pixels are painted at the end of it); also reported: to the start of the next animation frame, an upper
   bound. decode = the forward pass alone; first-hover = page.goto() to the first decoded hover image. The
   baseline, measured in the same run: the same slider timing as 2. on a second server with the in-page
   model turned off (EXPLORER_IN_PAGE=0), i.e. a decode on the server and a PNG sent back.
   --conv adds a conv model trained for the run (1 epoch on the bundled MNIST split); --model PATH (repeated)
   adds a model trained elsewhere (a .vaex file), its map opened alone with its graphs run in the page.
4. --throughput: training samples/s inside the app (the Train page's figure, the mean of the
   trainer's epoch records, with the page polling it live) against `python -m explorer train`
   with the same config, alternating app and CLI runs.

    python -m benchmarks.bench_browser --reps 7                      (from the repository root)
    python -m benchmarks.bench_browser --reps 0 --hover [--conv] [--model trained/pytorch_examples_vae.vaex]
    python -m benchmarks.bench_browser --reps 0 --throughput --data-dir ../shared/data/mnist --threads 1 [--pin]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, missing_browser, wait_idle

IN_PAGE_READY = ".vx-root[data-ready='1']"  # the in-page map, its model parsed
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
        page.locator(IN_PAGE_READY).first.wait_for(timeout=300_000)
        drawn = time.perf_counter() - t0
        wait_idle(page, 300)
        out.append((first, drawn, time.perf_counter() - t0))
        ctx.close()
    return out


def time_slider(browser, url: str, reps: int) -> list[float]:
    """Milliseconds from a slider key press to the new image loaded, alternating directions."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/decoder")
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


def time_page_slider(browser, url: str, reps: int) -> list[float]:
    """Milliseconds from a key press on an in-page slider to its image drawn (the page's own clock)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/decoder")
    page.locator(".vd-root[data-ready='1']").first.wait_for(timeout=300_000)
    wait_idle(page, 300)
    thumb = page.locator(".vd-root input[type='range']").first
    thumb.focus()
    for i in range(reps):
        thumb.press("PageUp" if i % 2 == 0 else "PageDown")
        wait_idle(page, 120)  # each key press also ends a gesture: the traversal reruns on the server
    out = page.locator(".vd-root").first.evaluate("r => r.__sliders.stats")
    ctx.close()
    return out[-reps:]


def hover_stats(browser, url: str, moves: int) -> dict:
    """Sweep the pointer over the in-page map `moves` times; the page's frame and decode times (ms)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(url)
    page.locator(IN_PAGE_READY).first.wait_for(timeout=300_000)
    wait_idle(page, 300)
    box = page.locator(".vx-over").first.bounding_box()
    rng = random.Random(0)
    for i in range(moves):  # a zigzag over the plot: every position is a new z
        t = (i % 100) / 99
        page.mouse.move(box["x"] + 50 + t * (box["width"] - 70), box["y"] + 20 + ((i // 100) * 37 + t * 300) % (box["height"] - 60))
        time.sleep(rng.uniform(0.005, 0.030))  # a hand's events arrive at any phase of the display's frames
    out = page.locator(".vx-root").first.evaluate(
        "r => ({frame: r.__map.stats.frame, decode: r.__map.stats.decode, shown: r.__map.stats.shown, "
        "bytes: r.__map.payloadBytes})")
    ctx.close()
    return out


def first_hover(browser, url: str) -> float:
    """Seconds from page.goto() on a fresh session to the first image decoded under the pointer."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    over = page.locator(".vx-over").first
    over.wait_for(timeout=300_000)
    while True:
        box = over.bounding_box()
        if box:
            page.mouse.move(box["x"] + box["width"] / 2 + (time.perf_counter() % 1) * 20, box["y"] + box["height"] / 2)
            if int(page.locator(".vx-root").first.get_attribute("data-decodes") or 0) > 0:
                break
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    ctx.close()
    return elapsed


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def hover_report(browser, url: str, reps: int, moves: int, label: str) -> tuple[dict, float]:
    firsts = [first_hover(browser, url) for _ in range(reps)]
    st = hover_stats(browser, url, moves)
    frame, decode, shown = st["frame"], st["decode"], st["shown"]
    print(f"{label}: frame (event -> pixels drawn) median {statistics.median(frame):.1f} ms, p95 "
          f"{quantile(frame, 0.95):.1f} ms over {len(frame)} frames; to the start of the next animation frame "
          f"median {statistics.median(shown):.1f} ms; decode median {statistics.median(decode):.2f} ms; payload {st['bytes']:,} bytes; "
          f"first hover median {statistics.median(firsts):.2f} s over {reps} ({', '.join(f'{t:.2f}' for t in firsts)})")
    return st, statistics.median(firsts)


def conv_checkpoint(folder: Path) -> Path:
    """A conv VAE on MNIST (2-D latent, channels 32-64), trained 1 epoch on the bundled split: a conv
    decoder's cost in the page, not a good model."""
    out = folder / "mnist_conv2.safetensors"
    subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "mnist", "--bundled-split", "--arch",
                    "conv", "--hidden", "32,64", "--latent", "2", "--epochs", "1", "--threads", "1", "--quiet",
                    "--out", str(out)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return out


def imported_report(browser, path: Path, reps: int, moves: int, env: dict[str, str]) -> None:
    """The hover timings of one .vaex model, the only model in its own trained folder (and the default)."""
    from explorer import load_model
    from explorer.web.payload import unsupported

    why = unsupported(load_model(path))
    if why:
        print(f"{path.name}: the page cannot run it, so its map decodes on the server ({why})")
        return
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / path.name).symlink_to(path.resolve())
        with AppServer(env={**env, "EXPLORER_TRAINED_DIR": d, "EXPLORER_DEFAULT_MODEL": path.stem}) as server:
            hover_report(browser, server.url, reps, moves, f"imported {path.name}")


def hover(browser, reps: int, moves: int, trained_dir: str, conv: bool, env: dict[str, str],
          models: list[str] = ()) -> None:
    with AppServer(env={**env, "EXPLORER_IN_PAGE": "0"}) as server_side:
        base = time_slider(browser, server_side.url, reps + 1)[1:]
    print(f"baseline, server-decoded slider -> new image on screen: median {statistics.median(base):.0f} ms "
          f"over {len(base)} ({', '.join(f'{t:.0f}' for t in base)})")
    if conv:
        with tempfile.TemporaryDirectory() as d:
            conv_checkpoint(Path(d))
            with AppServer(env={**env, "EXPLORER_TRAINED_DIR": d}) as server:
                hover_report(browser, server.url, reps, moves, "conv MNIST VAE (conv 32-64, 2-D)")
    for path in models:
        imported_report(browser, Path(path), reps, moves, env)
    with AppServer(env={**env, "EXPLORER_TRAINED_DIR": trained_dir}) as server:
        st, first = hover_report(browser, server.url, reps, moves, "bundled mnist_vae2 (MLP 512-256, 2-D)")
    frame = st["frame"]
    print(f"in-page frame / server slider: {statistics.median(frame) / statistics.median(base):.3f}")
    print(f"hover: median {statistics.median(frame):.1f} ms, p95 {quantile(frame, 0.95):.1f} ms, decode "
          f"{statistics.median(st['decode']):.2f} ms, payload {st['bytes']} bytes, first-hover {first:.2f} s")


def app_throughput(browser, url: str, epochs: int) -> float:
    """Train MNIST with the page's defaults (MLP 400, latent 2, batch 128) and read samples/s."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/train")
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


def imported_models(given: list[str] | None) -> list[str]:
    """The .vaex models --hover also times: those given, else the bundled pytorch/examples VAE (issue 22)."""
    if given is not None:
        return given
    bundled = REPO / "trained" / "pytorch_examples_vae.vaex"
    return [str(bundled)] if bundled.is_file() else []


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7, help="repetitions of the open and slider timings")
    p.add_argument("--trained-dir", default=str(REPO / "trained"), help="checkpoints the app offers")
    p.add_argument("--hover", action="store_true", help="time the in-page decoder under the pointer")
    p.add_argument("--moves", type=int, default=400, help="--hover: pointer moves in the sweep")
    p.add_argument("--conv", action="store_true", help="--hover: also a conv model (trained for the run)")
    p.add_argument("--model", action="append", default=None, metavar="PATH",
                   help="--hover: also this model trained elsewhere (.vaex); repeat for more (default: the bundled "
                        "trained/pytorch_examples_vae.vaex, when there)")
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
            lat = time_page_slider(browser, server.url, args.reps)
            print(f"in-page slider -> image drawn: median {statistics.median(lat):.1f} ms over {len(lat)} "
                  f"({', '.join(f'{t:.1f}' for t in lat)})")
        if args.hover:
            hover(browser, max(args.reps, 3), args.moves, args.trained_dir, args.conv, env, imported_models(args.model))
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
