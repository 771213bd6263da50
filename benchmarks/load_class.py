"""A class on one server: N browser sessions browse while T of them train at once under a limit of L.

    python -m benchmarks.load_class                       # 8 sessions, 4 trainings, limit 2 (BENCHMARKS.md)
    python -m benchmarks.load_class --sessions 4 --trainers 3 --epochs 6   # the short run the tests make

Loopback only, one real `streamlit run` and one headless Chromium with a context (its own cookies, so its
own session) per student. It checks what a class needs, and fails (AssertionError) if any of it breaks:
- at most L trainings run at once (the server's count in the queue message), the others say they queue,
  and every queued one starts and finishes;
- a reload mid-training finds the run again (the browser's token);
- no session sees another's models or settings;
- no page shows an exception and the server logs no traceback;
and it reports how long the class waited for the map (every session opens it at once, on a warmed server:
its file cache filled by `python -m explorer warm`, and the map opened by the server itself as it started; open
-> map drawn, median and max), the server's peak memory and the sliders' latency under that load.
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.class_open import READY_SCRIPT, drawn_at, warm
from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, wait_idle

TIMEOUT_MS = 300_000


class PeakRSS:
    """The largest resident set of a process, sampled every `every_s` on a thread."""

    def __init__(self, pid: int, every_s: float = 0.25):
        self.pid, self.every_s, self.peak_kb = pid, every_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = Path(f"/proc/{self.pid}/status").read_text()
                kb = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))
                self.peak_kb = max(self.peak_kb, kb)
            except (OSError, AttributeError):
                pass
            self._stop.wait(self.every_s)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def progress(page) -> str:
    texts = page.get_by_test_id("stProgress").all_inner_texts()
    return texts[0] if texts else ""


def start_training(page, url: str, hidden: int, epochs: int, batch: int) -> None:
    fill_training_form(page, url, hidden, epochs, batch)
    page.get_by_role("button", name="Start training").click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=TIMEOUT_MS)


def fill_training_form(page, url: str, hidden: int, epochs: int, batch: int) -> None:
    """The Train page with digits and these settings, not started yet."""
    page.goto(f"{url}/train")
    page.locator("button:has-text('Start training')").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page, 300)
    page.locator(".st-key-train_dataset [role='combobox']").click()
    page.get_by_role("option", name="digits", exact=True).click()
    wait_idle(page, 300)
    for key, value in (("train_hidden", str(hidden)), ("train_epochs", str(epochs)), ("train_batch_size", str(batch))):
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Tab")
        wait_idle(page, 300)


def slider_latency(page, url: str, reps: int) -> tuple[list[float], list[float]]:
    """(in-page decode-to-draw ms, key press to the server's traversal redrawn ms) on the Decoder page."""
    page.goto(f"{url}/decoder")
    page.locator(".vd-root[data-ready='1']").first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page, 300)
    thumb = page.locator(".vd-root input[type='range']").first
    thumb.focus()
    round_trips = []
    for i in range(reps):
        t0 = time.perf_counter()
        thumb.press("PageUp" if i % 2 == 0 else "PageDown")
        page.wait_for_timeout(50)  # the change reaches the server and its run starts
        wait_idle(page, 300)
        round_trips.append((time.perf_counter() - t0) * 1000)
    in_page = page.locator(".vd-root").first.evaluate("r => r.__sliders.stats")
    return [float(v) for v in in_page[-reps:]], round_trips


def errors_on(page) -> int:
    return page.get_by_test_id("stException").count()


def own_models(page) -> list[str]:
    """The options of this session's "Model trained in this session" box."""
    bar = page.get_by_test_id("stSidebar")
    bar.get_by_text("Trained here", exact=True).click()
    wait_idle(page, 300)
    bar.locator(".st-key-session_model_name [role='combobox']").click()
    names = [o.inner_text() for o in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    return names


def run(sessions: int = 8, trainers: int = 4, limit: int = 2, epochs: int = 20, batch: int = 4, reps: int = 6,
        log_path: Path | None = None, first_epochs: int | None = None) -> dict:
    """first_epochs: the first `limit` trainings' length (default epochs). Longer ones are still running when
    the later trainings start, however fast a training is, so those must wait in the queue."""
    if not 1 <= trainers <= sessions or limit < 1:
        raise ValueError("need 1 <= trainers <= sessions and a limit of at least 1")
    from playwright.sync_api import sync_playwright

    saves = Path(tempfile.mkdtemp(prefix="vaex-load-saves-"))
    log_path = log_path or Path(tempfile.mkdtemp(prefix="vaex-load-")) / "server.log"
    cache = saves.parent / (saves.name + "-cache")  # warmed before class, as the README tells a teacher
    warm([str(REPO / "trained" / "mnist_vae2.safetensors")], cache, "pca")
    env = {"EXPLORER_MAX_TRAININGS": str(limit), "EXPLORER_TRAIN_THREADS": "1", "EXPLORER_SAVES_DIR": str(saves),
           "EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(cache),
           "EXPLORER_WARM_PAGES": "map"}  # the server opens the map itself as it starts, as by default
    out: dict = {"sessions": sessions, "trainers": trainers, "limit": limit}
    t_start = time.perf_counter()
    with AppServer(env=env, log_path=log_path) as server, PeakRSS(server.proc.pid) as rss, sync_playwright() as p:
        browser = launch(p)
        server.wait_log("warmed /map in")  # a class comes minutes after the teacher starts the server
        pages, page_errors, t0, opened = [], [], {}, {}
        for i in range(sessions):
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.set_default_timeout(TIMEOUT_MS)
            ctx.add_init_script(READY_SCRIPT)
            pages.append(ctx.new_page())
            pages[-1].on("pageerror", lambda e, i=i: page_errors.append((i, str(e)[:300])))  # a white page
            pages[-1].on("console", drawn_at(i, t0, opened))
        for i, page in enumerate(pages):  # the class opens the map at once: the model runs in each page
            t0[i] = time.perf_counter()
            page.goto(f"{server.url}/map", wait_until="commit")
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(opened) < sessions and time.monotonic() < deadline:
            pages[0].wait_for_timeout(100)
        assert len(opened) == sessions, f"only {len(opened)} of {sessions} maps were drawn"
        out["map_open_s_median"] = statistics.median(opened.values())
        out["map_open_s_max"] = max(opened.values())
        hidden = [16 + 8 * i for i in range(trainers)]  # each trainer's own setting, to check nobody sees another's
        queued_seen, most_running, server_running = set(), 0, 0
        for i, (page, h) in enumerate(zip(pages, hidden)):
            start_training(page, server.url, h, first_epochs or epochs if i < limit else epochs, batch)
            if i >= limit:  # the first `limit` are still training: this one must say it waits
                page.get_by_text(re.compile("Waiting for a free training slot|Training · epoch")).first.wait_for()
                if page.get_by_text("yours starts when one finishes").count():
                    queued_seen.add(i)
        in_page, round_trips = [], []
        watchers = pages[trainers:] or pages[:1]
        reloaded = False
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            texts = [progress(pg) for pg in pages[:trainers]]
            running = sum(t.startswith("Training") for t in texts)
            most_running = max(most_running, running)
            for i, pg in enumerate(pages[:trainers]):
                # read at once, never waited for: the message goes when the queued training starts, and a
                # locator read after it went would wait for it to come back (CI lost 300 s that way)
                said = pg.get_by_text("yours starts when one finishes").all_inner_texts()
                if said:  # the server's own count of running trainings, read under its lock
                    queued_seen.add(i)
                    busy = re.search(r"(\d+) trainings? (?:is|are) running", said[0])
                    server_running = max(server_running, int(busy.group(1)) if busy else 0)
            if not reloaded and texts[0].startswith("Training"):
                pages[0].reload()
                pages[0].get_by_text("Your training from before the page was reloaded is here again.").wait_for()
                pages[0].get_by_test_id("stProgress").first.wait_for()
                reloaded = True
            if len(round_trips) < reps * len(watchers) and running:
                w = watchers[len(round_trips) // reps % len(watchers)]
                a, b = slider_latency(w, server.url, reps)
                in_page += a
                round_trips += b
            if all(t.startswith("Finished") for t in texts):
                break
            time.sleep(0.5)
        texts = [progress(pg) for pg in pages[:trainers]]
        assert all(t.startswith("Finished") for t in texts), f"not every training finished: {texts}"
        # pages lag the server by up to a poll (1 s), so a page count can briefly exceed the limit; the
        # server's own count, in the queue message, must not
        assert server_running <= limit, f"the server said {server_running} trainings ran under a limit of {limit}"
        if trainers > limit:
            assert len(queued_seen) == trainers - limit, f"only trainings {sorted(queued_seen)} were seen queued"
        assert reloaded, "the reload was never tried"
        out["trainings_s"] = time.perf_counter() - t_start
        names = []
        for page, h in zip(pages[:trainers], hidden):
            assert page.locator(".st-key-train_hidden input").input_value() == str(h), "a form shows another's setting"
            mine = own_models(page)
            assert len(mine) == 1, f"a session lists {len(mine)} trained models: {mine}"
            names.append(mine[0])
        assert len(set(names)) == trainers, f"two sessions list the same model: {names}"
        for page in pages[trainers:]:
            assert page.get_by_test_id("stSidebar").get_by_text("Trained here", exact=True).count() == 0, \
                "a session that trained nothing lists a trained model"
        assert sum(errors_on(pg) for pg in pages) == 0, "a page shows an exception"
        assert not page_errors, f"the frontend failed on a page: {page_errors}"
        out["trainings_lost"] = len(list(saves.glob("*-unattended-*")))  # reaped as abandoned
        assert out["trainings_lost"] == 0, "a training was reaped while its page was open"
        out["queued_seen"] = len(queued_seen)
        out["server_said_running_max"] = server_running
        out["pages_training_max"] = most_running
        out["peak_rss_mb"] = rss.peak_kb / 1024
        browser.close()
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, f"the server logged a traceback (see {log_path})"
    out.update(slider_in_page_ms_median=statistics.median(in_page), slider_round_trip_ms_median=statistics.median(
        round_trips), slider_round_trip_ms_max=max(round_trips), slider_samples=len(round_trips))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--trainers", type=int, default=4)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--reps", type=int, default=6)
    a = ap.parse_args()
    res = run(a.sessions, a.trainers, a.limit, a.epochs, a.batch_size, a.reps)
    for k, v in res.items():
        print(f"{k:32s} {v:.1f}" if isinstance(v, float) else f"{k:32s} {v}")


if __name__ == "__main__":
    main()
