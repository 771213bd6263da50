"""Where a class's open goes: N pages open /map at once on a server with its file cache warmed (as
benchmarks/map_open.py), and the CPU seconds each kind of process spent until the last map was drawn (Chromium's
browser, GPU, renderer and network processes; the server; Playwright's driver and this script), against the
machine's total; --bare: the same for a bare Streamlit page (a title), the floor a Streamlit app cannot go under.

    python -m benchmarks.class_cpu                 # 8 map pages (BENCHMARKS.md, "The map page made light")
    python -m benchmarks.class_cpu --bare          # 8 bare Streamlit pages

On the 2-core machine every process shares the same cores, so the total is what bounds the last page's wait.
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.class_open import drawn_at, ready_script, warm
from benchmarks.page_cpu import TICKS, Bare, descendants
from tests.browser_harness import REPO, VIEWPORT, AppServer, launch


def by_kind(server_pid: int) -> collections.Counter:
    """User + system CPU seconds of this process's tree and the server's, by kind of process."""
    out: collections.Counter = collections.Counter()
    served = {server_pid, *descendants(server_pid)}
    for pid in {os.getpid(), *descendants(os.getpid()), *served}:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since it was listed
            continue
        if pid in served:
            kind = "server"
        elif b"chrom" in cmd:
            kind = "chromium " + next((c.decode().split("=", 1)[1] for c in cmd.split()
                                       if c.startswith(b"--type=")), "browser")
        elif b"node" in cmd:
            kind = "playwright driver"
        else:
            kind = "this script"
        out[kind] += sum(int(f) for f in fields[11:13]) / TICKS
    return out


def machine_s() -> tuple[float, float]:
    """(all, idle) CPU seconds of the machine since boot."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(v) / TICKS, (v[3] + v[4]) / TICKS


def run(sessions: int, bare: bool) -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vaex-class-cpu-"))
    selector, path = ("h1", "/") if bare else (".vx-root[data-ready='1']", "/map")
    if not bare:
        warm([str(REPO / "trained" / "mnist_vae2.safetensors")], tmp / "cache", "pca")
    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(tmp / "cache"),
           "EXPLORER_WARM_PAGES": "map"}
    with (Bare() if bare else AppServer(env=env, log_path=tmp / "server.log")) as server, sync_playwright() as p:
        if not bare:
            server.wait_log("warmed /map in")
        browser = launch(p)
        t0, done, pages = {}, {}, []
        for i in range(sessions):
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.add_init_script(ready_script(selector))
            pages.append(ctx.new_page())
            pages[i].on("console", drawn_at(i, t0, done))
        time.sleep(2)  # the contexts' own start-up settles
        c0, (m0, i0) = by_kind(server.proc.pid), machine_s()
        for i, page in enumerate(pages):
            t0[i] = time.perf_counter()
            page.goto(server.url + path, wait_until="commit")
        while len(done) < sessions:
            pages[0].wait_for_timeout(100)
        c1, (m1, i1) = by_kind(server.proc.pid), machine_s()
        browser.close()
    times = sorted(done.values())
    print(f"{sessions} {'bare Streamlit' if bare else 'map'} pages at once: open -> drawn median "
          f"{statistics.median(times):.1f} s, max {times[-1]:.1f} s; machine CPU {m1 - m0 - (i1 - i0):.1f} s "
          f"of {m1 - m0:.1f} s")
    for kind in sorted(c1, key=lambda k: c0[k] - c1[k]):
        if c1[kind] - c0[kind] >= 0.05:
            print(f"  {kind:28s} {c1[kind] - c0[kind]:6.2f} CPU-s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--bare", action="store_true", help="a bare Streamlit page instead of the map")
    a = ap.parse_args()
    run(a.sessions, a.bare)


if __name__ == "__main__":
    main()
