"""What one browser opening the map costs in CPU: Chromium (every process of its tree) and the server, from the
request until the page has been idle 6 s after its map was drawn, against a bare Streamlit page (a title) opened
the same way in the same run. Eight pages opening at once on a 2-core machine share these seconds, so they bound
how fast a class can open the map there (benchmarks/map_open.py times that).

    python -m benchmarks.page_cpu                # 4 opens each after one warm-up, medians
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.browser_harness import REPO, VIEWPORT, AppServer, free_port, launch

TICKS = os.sysconf("SC_CLK_TCK")
BARE = 'import streamlit as st\nst.title("A bare page")\n'


def cpu_s(pids: list[int]) -> float:
    """User + system seconds of these (live) processes. Not their reaped children's: a closed page's renderer,
    reaped by Chromium's zygote, would be counted again in the next open's (it once doubled a page's figure)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since it was listed
            continue
        total += sum(int(f) for f in fields[11:13])
    return total / TICKS


def descendants(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out[1:]


def chromium() -> list[int]:
    """This process's Chromium processes (Playwright's driver starts them), not another job's."""
    pids = []
    for pid in descendants(os.getpid()):
        try:
            if b"chrom" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


def opens(browser, url: str, ready: str, server_pid: int, n: int) -> list[tuple[float, float, float]]:
    """(browser CPU s, server CPU s, seconds to ready) of n opens, after one that warms the server."""
    rows = []
    for i in range(n + 1):
        c0, s0 = cpu_s(chromium()), cpu_s([server_pid] + descendants(server_pid))
        ctx = browser.new_context(viewport=VIEWPORT)
        page, t0 = ctx.new_page(), time.perf_counter()
        page.goto(url)
        page.locator(ready).first.wait_for(timeout=300_000)
        took = time.perf_counter() - t0
        page.wait_for_timeout(6000)
        c1, s1 = cpu_s(chromium()), cpu_s([server_pid] + descendants(server_pid))
        ctx.close()
        if i:
            rows.append((c1 - c0, s1 - s0, took))
    return rows


class Bare:
    """A bare Streamlit page on a server of its own."""

    def __enter__(self) -> "Bare":
        self.dir = Path(tempfile.mkdtemp(prefix="vaex-bare-"))
        (self.dir / "bare.py").write_text(BARE)
        port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "bare.py", "--server.headless", "true",
                                      "--server.port", str(port), "--server.address", "127.0.0.1",
                                      "--browser.gatherUsageStats", "false"], cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the bare Streamlit server did not answer")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vaex-page-cpu-"))
    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(tmp / "cache")}
    with Bare() as bare, AppServer(env=env, log_path=tmp / "app.log") as app, sync_playwright() as p:
        browser = launch(p)
        rows = {"map page": opens(browser, f"{app.url}/map", ".vx-root[data-ready='1']", app.proc.pid, a.n),
                "bare Streamlit page": opens(browser, f"{bare.url}/", "h1", bare.proc.pid, a.n)}
        browser.close()
    med = {k: [statistics.median(r[j] for r in v) for j in range(3)] for k, v in rows.items()}
    for k, (c, s, t) in med.items():
        print(f"{k:20s} browser CPU {c:5.2f} s  server CPU {s:5.2f} s  open {t:5.2f} s  (medians of {a.n})")
    m, b = med["map page"], med["bare Streamlit page"]
    print(f"map page / bare page: browser CPU {m[0] / b[0]:.2f}x, server CPU {m[1] / b[1]:.2f}x")


if __name__ == "__main__":
    main()
