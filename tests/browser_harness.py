"""Shared by tests/test_browser.py and benchmarks/bench_browser.py: run the real app in a subprocess
and drive it with Playwright on Debian's Chromium (Playwright's own browser download is not needed)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}


def chromium_path() -> str | None:
    for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if p and Path(p).is_file():
            return p
    return None


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if chromium_path() is None:
        return "chromium is not installed (/usr/bin/chromium)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run streamlit_app.py` on a free port; stop() kills its whole process group."""

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None,
                 cpus: set[int] | None = None, count_runs: bool = False):
        self.port = free_port()
        self.cpus = cpus  # pin the server to these cores (benchmarks: keep the browser off them)
        self.url = f"http://127.0.0.1:{self.port}"
        # no warm visit of its own (explorer/ui/warm_start.py) unless asked: tests count runs and memory from start
        self.env = {"EXPLORER_WARM_PAGES": "", **os.environ, **(env or {})}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.count_runs = count_runs  # debug log: Streamlit writes "Running script" for every (fragment) run

    def start(self, timeout: float = 180.0) -> "AppServer":
        log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
            + (["--logger.level", "debug"] if self.count_runs else []),
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {timeout:.0f}s")

    def wait_log(self, text: str, timeout: float = 300.0) -> str:
        """The server log's line that holds text, once it is written (needs a log_path)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if text in line:
                    return line
            time.sleep(0.2)
        raise RuntimeError(f"the server did not log {text!r} within {timeout:.0f}s; see {self.log_path}")

    def runs(self) -> int:
        """Script and fragment runs so far (needs count_runs and a log_path)."""
        if not (self.count_runs and self.log_path and self.log_path.exists()):
            raise RuntimeError("start the server with count_runs=True and a log_path to count its runs")
        return self.log_path.read_text(errors="replace").count("Running script")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: only the server and its children
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def wait_idle(page: Any, timeout: float = 120.0) -> None:
    """Until the script has finished running (Streamlit's "Running…" status widget is gone)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout * 1000)


def image_src(page: Any, caption: str) -> str | None:
    """src of the st.image whose caption contains `caption`."""
    return page.evaluate("""(caption) => {
        for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
            const c = el.querySelector('[data-testid="stImageCaption"]');
            if (c && c.textContent.includes(caption)) return el.querySelector('img').src;
        }
        return null; }""", caption)


def truncated_labels(page: Any) -> list[dict]:
    """Text the page cuts short with an ellipsis (a button, tab or metric label too wide for its column):
    every shown element whose text-overflow is ellipsis and whose content is wider than its box."""
    return page.evaluate("""() => {
        const out = [];
        for (const el of document.querySelectorAll('*')) {
            if (el.clientWidth === 0 || getComputedStyle(el).textOverflow !== 'ellipsis') continue;
            if (el.scrollWidth > el.clientWidth + 1)
                out.push({text: el.textContent.trim(), needs: el.scrollWidth, has: el.clientWidth});
        }
        return out; }""")


def plot_last_x(page: Any, key_prefix: str) -> float | None:
    """The last x value of the first trace of the Plotly chart under an element keyed key_prefix*
    (on the training curves: the epoch they reach), or None while there is no chart."""
    return page.evaluate("""(prefix) => {
        const box = document.querySelector(`[class*="st-key-${prefix}"]`);
        const gd = box && box.querySelector('.js-plotly-plot');
        // _fullData: Plotly's decoded arrays (plotly.py sends numpy arrays base64-encoded)
        const x = gd && gd._fullData && gd._fullData.length ? gd._fullData[0].x : null;
        return x && x.length ? Number(x[x.length - 1]) : null; }""", key_prefix)


def isolated_point(page: Any, key_prefix: str, avoid: int | None = None) -> dict | None:
    """The map point farthest from its nearest neighbour on screen (so a click cannot hit another),
    among the first few hundred; its page coordinates and customdata (the test image index)."""
    return page.evaluate("""([prefix, avoid]) => {
        const box = document.querySelector(`[class*="st-key-${prefix}"]`);
        const gd = box && box.querySelector('.js-plotly-plot');
        if (!gd || !gd._fullLayout) return null;
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
        const pts = [];
        for (const tr of gd._fullData) {
            if (!tr.customdata || tr.mode !== 'markers') continue;
            for (let i = 0; i < tr.x.length; i++)
                pts.push({x: xa._offset + xa.l2p(tr.x[i]), y: ya._offset + ya.l2p(tr.y[i]), customdata: tr.customdata[i]});
        }
        const w = gd._fullLayout._size;
        let best = null, bestD = -1;
        for (const p of pts.slice(0, 400)) {
            if (p.customdata === avoid || p.x < w.l + 5 || p.x > w.l + w.w - 5 || p.y < w.t + 5 || p.y > w.t + w.h - 5) continue;
            let d = Infinity;
            for (const q of pts) if (q !== p) d = Math.min(d, (p.x - q.x) ** 2 + (p.y - q.y) ** 2);
            if (d > bestD) { bestD = d; best = p; }
        }
        return best && {x: r.left + best.x, y: r.top + best.y, customdata: best.customdata, gap: Math.sqrt(bestD)}; }""",
                         [key_prefix, avoid])


def add_module(page: Any, entry: str) -> None:
    """Run an entry module's text in the page, bundled with what it imports (paths relative to explorer/web/,
    e.g. `import * as VAENet from "./vaenet.js"; window.VAENet = VAENet;`), and wait until it has run."""
    from explorer.web.bundle import bundle

    page.add_script_tag(type="module", content=bundle("test_entry.js", text=entry + "\nwindow.__vxReady = true;"))
    page.wait_for_function("() => window.__vxReady === true", timeout=10_000)


def count_frames(page: Any) -> list[int]:
    """The sizes of the frames the server sends on the app's websocket from now on (attach before goto)."""
    sizes: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: sizes.append(len(f))))
    return sizes


def click_bytes(page: Any, sizes: list[int], timeout: float = 180.0) -> tuple[int, list[float], list[float]]:
    """Click the dot on the map farthest from the star; wait until the star has moved and the app is idle.
    (bytes the server sent meanwhile, the star before, after): what a click costs (issue 24: < 10 KB)."""
    root = page.locator(".vx-root").first
    star = lambda: root.evaluate("r => r.__map.header.selected_xy || null")  # noqa: E731
    before = star()
    box = page.locator(".vx-over").first.bounding_box()
    pts = root.evaluate("r => r.__map.screenCoords()")
    sx, sy = root.evaluate("(r, xy) => r.__map.toScreen(xy[0], xy[1])", before) if before else (-1e9, -1e9)
    x, y = max((p for p in pts if 40 < p[0] < box["width"] - 40 and 40 < p[1] < box["height"] - 40),
               key=lambda p: (p[0] - sx) ** 2 + (p[1] - sy) ** 2)
    start = sum(sizes)
    page.mouse.click(box["x"] + x, box["y"] + y)
    deadline = time.monotonic() + timeout
    while star() == before and time.monotonic() < deadline:  # the map sits in a shadow root: polled from here
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)
    wait_idle(page)
    return sum(sizes) - start, before, star()
