"""A class presses Start together: T browsers fill the Train form, then all press Start within a second, under a
limit of L trainings at once (the run that turned 2 of 4 trainers' pages white and lost their models).

    python -m benchmarks.class_starts                 # 4 trainers, limit 2, once
    python -m benchmarks.class_starts --runs 10       # ten fresh servers; prints each run and the total

One real `streamlit run`, one headless Chromium, a context (own cookies, own session) per student. A run fails
if any page throws (Streamlit's frontend error is a white page), goes blank, does not finish its training, if
the server keeps any training as abandoned (`...-unattended-...`: a student whose page is open never loses one), or
if the server dropped any message of a run (its debug log's "Ignoring event from non-current ScriptRunner" for a
message: the cause of the white page, see explorer/ui/runner_handoff.py; it is counted even when the page
happened to survive it).
The grace before an abandoned training is reaped is short here (GRACE_S), so a page that stopped beating would be
reaped within the run.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.load_class import TIMEOUT_MS, fill_training_form, progress
from tests.browser_harness import VIEWPORT, AppServer, launch

DROPPED = "Ignoring event from non-current ScriptRunner: ScriptRunnerEvent.ENQUEUE_FORWARD_MSG"
GRACE_S = 5  # seconds a training whose browser is gone keeps running, in this run
BLANK_JS = "() => (document.querySelector('[data-testid=\"stMain\"]')?.innerText || '').trim().length"


def run(trainers: int = 4, limit: int = 2, epochs: int = 12, batch: int = 8, deadline_s: float = 900) -> dict:
    """One class on a fresh server; the dict says what each page saw (see the module's docstring)."""
    from playwright.sync_api import sync_playwright

    saves = Path(tempfile.mkdtemp(prefix="vaex-starts-saves-"))
    log_path = Path(tempfile.mkdtemp(prefix="vaex-starts-")) / "server.log"
    env = {"EXPLORER_MAX_TRAININGS": str(limit), "EXPLORER_TRAIN_THREADS": "1", "EXPLORER_SAVES_DIR": str(saves),
           "EXPLORER_TRAINING_GRACE_S": str(GRACE_S)}
    errors: list[tuple[int, str]] = []
    with AppServer(env=env, log_path=log_path, count_runs=True) as server, sync_playwright() as p:
        browser = launch(p)
        pages = []
        for i in range(trainers):
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = ctx.new_page()
            page.on("pageerror", lambda e, i=i: errors.append((i, f"{e}\n{getattr(e, 'stack', '') or ''}"[:1500])))
            pages.append(page)
        for i, page in enumerate(pages):
            fill_training_form(page, server.url, hidden=16 + 8 * i, epochs=epochs, batch=batch)
        for page in pages:  # everyone at once: no waiting for a page between the clicks
            page.get_by_role("button", name="Start training").click()
        texts, blank = [""] * trainers, set()
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for i, page in enumerate(pages):
                if page.evaluate(BLANK_JS) == 0:
                    blank.add(i)
                texts[i] = progress(page)
            if errors or blank or all(t.startswith("Finished") for t in texts):
                break
            time.sleep(0.5)
        browser.close()
    lost = sorted(f.name for f in saves.glob("*-unattended-*"))
    log = log_path.read_text(errors="replace")
    return {"page_errors": errors, "blank_pages": sorted(blank), "lost": lost,
            "finished": sum(t.startswith("Finished") for t in texts), "trainers": trainers,
            "tracebacks": log.count("Traceback"), "progress": texts, "dropped_messages": log.count(DROPPED)}


def ok(res: dict) -> bool:
    return (not res["page_errors"] and not res["blank_pages"] and not res["lost"] and not res["tracebacks"]
            and not res["dropped_messages"] and res["finished"] == res["trainers"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--trainers", type=int, default=4)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--quiet", action="store_true", help="one line a run")
    a = ap.parse_args()
    passed = 0
    for r in range(a.runs):
        res = run(a.trainers, a.limit, a.epochs)
        passed += ok(res)
        detail = {k: res[k] for k in ("page_errors", "blank_pages", "lost", "dropped_messages", "finished")}
        print(f"run {r + 1}: {'ok' if ok(res) else 'FAILED'} {detail if a.quiet else res}")
    print(f"{passed} of {a.runs} runs: every page kept and every training finished")


if __name__ == "__main__":
    main()
