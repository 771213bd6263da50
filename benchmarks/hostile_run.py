"""Issue 25's "Done means" figures in one run: every attack of the hostile-input tests, against ONE real server.

    python -m benchmarks.hostile_run            # the whole campaign (BENCHMARKS.md, "Hostile run (issue 25)")
    python -m benchmarks.hostile_run --quick    # a third of the files and values, one cut-off upload, 3 soak rounds

One `streamlit run` (tests/browser_harness.AppServer) with EXPLORER_MEMORY_BUDGET_MB set, so that the budget,
not the machine, bounds what a request may take, and one headless Chromium. The attacks are the tests' own:
tests/hostile_files.py's crafted checkpoints (uploaded in the page, listed from trained/ and the saves folder,
given to every CLI command that takes a checkpoint), absurd values in the Train page's form, forged component
values on the websocket (tests/test_hostile_small.py, tests/test_flood.py), a copied cookie after a teacher's
reset (tests/test_browser_token.py), processes saving at once (tests/test_hostile_saves.py) and the upload soak
(tests/test_browser_soak.py). Each row counts the cases refused cleanly (one message on the page, or one
`error:` line and a non-zero exit), the good controls accepted, error boxes (Streamlit's stException),
tracebacks (server log, CLI stderr) and crashes; the server's resident memory is sampled throughout.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.hostile_pages import (FLOOD, cookie_row, cut_upload_row, folder_row, forged_rows, form_row, new_page,
                                      soak, upload_row)
from benchmarks.hostile_parts import BUDGET_MB, MB, LogWatch, TreeRSS, cli_row, crafted, saves_row, table, tree_rss_kb
from tests.browser_harness import REPO, AppServer, launch, missing_browser, wait_idle
from tests.hostile_files import good_bytes


def run(quick: bool, work: Path) -> str:
    from playwright.sync_api import sync_playwright

    t_start = time.perf_counter()
    files_dir, trained, saved = work / "files", work / "trained", work / "saved"
    for d in (files_dir, trained, saved, work / "cli"):
        d.mkdir()
    files = []
    for name, data in crafted(work, quick):
        for d in (files_dir, trained, saved):
            (d / f"{name}.safetensors").write_bytes(data)
        files.append((name, files_dir / f"{name}.safetensors"))
    (trained / "good.safetensors").write_bytes(good_bytes(work))  # what every session opens on: the map works
    # MNIST's training files where the tests find them (tests/conftest.py), a worktree's one folder deeper; without
    # them the Train page's MNIST is its bundled 10,000 images, and the forms' data smaller
    shared = [Path(os.environ["EXPLORER_DATA_DIR"])] if os.environ.get("EXPLORER_DATA_DIR") else \
        [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
    data_dir = next((d for d in shared if (d / "mnist").is_dir()), shared[0])
    env = {"EXPLORER_MEMORY_BUDGET_MB": str(BUDGET_MB), "EXPLORER_DATA_DIR": str(data_dir),
           "EXPLORER_TRAINED_DIR": str(trained), "EXPLORER_SAVES_DIR": str(saved),
           "EXPLORER_CACHE_DIR": str(work / "cache"), "EXPLORER_DEFAULT_MODEL": "good",
           "EXPLORER_MAX_TRAININGS": "1", "EXPLORER_TRAIN_THREADS": "1",
           "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "1"}  # the soak's: a closed tab's session ends at once

    # the command line first, with the server not yet started: they would share two cores
    t0 = time.perf_counter()
    rows = [cli_row(files, work / "cli", {**os.environ, **env, "PYTHONPATH": str(REPO)})]
    times = {"CLI": time.perf_counter() - t0}
    log_path = work / "server.log"
    with AppServer(env=env, log_path=log_path) as server, TreeRSS(server.proc.pid) as rss, \
            sync_playwright() as p:
        browser, log = launch(p), LogWatch(log_path)
        page = new_page(browser)  # one page drawn: the server has imported what it serves
        page.goto(f"{server.url}/map")
        page.wait_for_selector(".vx-root[data-ready='1']")
        wait_idle(page)
        page.context.close()
        baseline = tree_rss_kb(server.proc.pid) / MB
        names = [name for name, _ in files]
        phases: list[tuple[str, Callable[[], Any]]] = [
            ("uploads", lambda: upload_row(browser, server, files, log)),
            ("cut-off uploads", lambda: cut_upload_row(browser, server, work, log, 1 if quick else 3)),
            ("trained/", lambda: folder_row(browser, server, names, "Bundled", "bundled_name", log)),
            ("saves folder", lambda: folder_row(browser, server, names, "Saved on this server", "saved_name", log)),
            ("forged values", lambda: forged_rows(browser, server, log, quick)),
            ("forms", lambda: form_row(browser, server, log, rss, quick)),
            ("cookie", lambda: cookie_row(browser, server, saved)),
            ("saves", lambda: saves_row(saved)),
            ("soak", lambda: soak(browser, server, work, 3 if quick else 8)),
        ]
        out: dict[str, Any] = {}
        starts: dict[str, int] = {}
        for name, phase in phases:
            rss.phase, t0, starts[name] = name, time.perf_counter(), tree_rss_kb(server.proc.pid)
            out[name] = phase()
            times[name] = time.perf_counter() - t0
        crashed = server.proc.poll() is not None
        browser.close()
    server_tracebacks = log_path.read_text(errors="replace").count("Traceback")
    clicks, flood, flood_s = out["forged values"]
    forms, form_peaks = out["forms"]
    saves_, lost = out["saves"]
    series = out["soak"]
    rows += [out["uploads"], out["cut-off uploads"], out["trained/"], out["saves folder"], clicks, flood, forms,
             out["cookie"], saves_]
    lines = [table(rows), "",
             f"- server crashes: {int(crashed)} (the one server process alive at the end: {not crashed}); tracebacks "
             f"in its whole log: {server_tracebacks}",
             f"- server RSS (its process tree, every 0.25 s; EXPLORER_MEMORY_BUDGET_MB = {BUDGET_MB:,}, per request): "
             f"{baseline:,.0f} MB after the first page; peak {rss.peak_kb / MB:,.0f} MB. Peak of each phase "
             "(and its rise over the phase's start): " + ", ".join(
                 f"{k} {rss.peaks.get(k, 0) / MB:,.0f} ({(rss.peaks.get(k, 0) - starts[k]) / MB:+,.0f})"
                 for k in starts),
             *[f"  - {name}: peak {mb:,.0f} MB ({mb - before:+,.0f}), answered in {secs:.1f} s: {said[:150]!r}"
               for name, (mb, before, secs, said) in form_peaks.items()],
             f"- {FLOOD:,} clicks in one message: handled in {flood_s:.1f} s, its last click chosen",
             f"- owner entries lost under 4 x 25 concurrent saves: {lost}",
             f"- RSS after the upload soak ({len(series)} rounds of a 19 MB checkpoint, each tab closed): "
             f"{series[0]:,.0f} MB after the first, {series[-1]:,.0f} MB after the last "
             f"({100 * (series[-1] / series[0] - 1):+.1f}%); between: {[round(r) for r in series]}",
             "- seconds per phase: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items())
             + f"; total {time.perf_counter() - t_start:.0f} s"]
    notes = [f"  - {r.attack}: {n}" for r in rows for n in r.notes]
    lines += ["- cases neither refused cleanly nor accepted:" if notes else "- cases neither refused cleanly "
              "nor accepted: none", *notes]
    return "\n".join(lines)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a third of the files and values, one cut-off upload, 3 soak rounds")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (the server's log, the files)")
    a = ap.parse_args()
    why = missing_browser()
    if why:
        sys.exit(f"cannot run: {why}")
    work = Path(tempfile.mkdtemp(prefix="vaex-hostile-"))
    load = os.getloadavg()
    try:
        report = run(a.quick, work)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    print(f"{time.strftime('%Y-%m-%d')} · commit {commit} · load average at start {load[0]:.2f}, at end "
          f"{os.getloadavg()[0]:.2f} · {os.cpu_count()} cores{' · --quick' if a.quick else ''}"
          + (f" · work folder {work}" if a.keep else ""))
    print(report)


if __name__ == "__main__":
    main()
