"""The hostile run's attacks through a real page in Chromium: uploads (whole and cut off), files listed from the
server's folders, forged websocket values, absurd Train-form values, a copied cookie after a reset, and the upload
soak (benchmarks/hostile_run.py runs them)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.hostile_parts import BUDGET_MB, MB, TIMEOUT_MS, LogWatch, Row, TreeRSS, tree_rss_kb
from tests.browser_harness import VIEWPORT, AppServer, wait_idle


def alerts(page: Any, where: str = "") -> list[tuple[str, str]]:
    """(kind, text) of every st.error / st.warning / st.info under `where` (a CSS prefix, e.g. the sidebar)."""
    return page.evaluate("""(where) => Array.from(document.querySelectorAll(`${where} [data-testid^="stAlertContent"]`))
        .map(e => [e.dataset.testid.slice(14),  // the message without its icon's name
                   (e.querySelector('[data-testid="stMarkdownContainer"]') || e).innerText])""", where)


def boxes(page: Any) -> int:
    return page.get_by_test_id("stException").count()


SIDEBAR = "[data-testid='stSidebar']"


def judge_model(page: Any, name: str, log: LogWatch, alive: Callable[[], bool]) -> tuple:
    """After a file was opened in the sidebar: wait until its name is in a message or on the model card, then
    the row.add arguments: refused (one one-line message naming it), accepted (the card) or what went wrong."""
    try:
        page.wait_for_function("""([sb, name]) => Array.from(document.querySelectorAll(
            `${sb} [data-testid^="stAlertContent"], ${sb} [data-testid="stText"]`))
            .some(e => e.innerText.includes(name))""", arg=[SIDEBAR, name], timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS / 1000)
        said = [(k, t) for k, t in alerts(page, SIDEBAR) if name in t]
        card = page.locator(f"{SIDEBAR} [data-testid='stText']", has_text=name).count()
        if name.endswith("-good"):
            outcome, why = ("accepted", "") if card and not said else ("failed", f"card {card}, said {said}")
        elif len(said) == 1 and said[0][0] in ("Error", "Warning") and "\n" not in said[0][1].strip():
            outcome, why = "refused", ""
        else:
            outcome, why = "not clean", f"card {card}, messages {said}"[:300]
    except Exception as e:  # no answer in time: a finding too
        outcome, why = "no answer", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    n, first = log.new()
    return outcome, why or first, boxes(page), n, not alive()


def open_upload(page: Any, url: str) -> Any:
    """The map page with the sidebar's source on Upload; its file input."""
    page.goto(f"{url}/map")
    page.locator(f"{SIDEBAR} label", has_text="Upload").first.click()
    page.get_by_text("Upload a checkpoint to explore it.").wait_for()  # a file set before this run ends is lost
    wait_idle(page)
    return page.locator(f"{SIDEBAR} input[type='file']").first


def upload_row(browser: Any, server: AppServer, files: list[tuple[str, Path]], log: LogWatch) -> Row:
    row = Row("checkpoints uploaded in the sidebar (Chromium)")
    page = new_page(browser)
    uploader = open_upload(page, server.url)
    for name, path in files:
        uploader.set_input_files(str(path))
        row.add(name, *judge_model(page, name, log, lambda: server.proc.poll() is None))
    page.context.close()
    return row


def cut_upload_row(browser: Any, server: AppServer, folder: Path, log: LogWatch, rounds: int = 3) -> Row:
    """A tab closed while its upload is on the wire (a student's hurry, or a client that means it): the server
    should drop the upload without a word in its log."""
    row = Row("an upload cut off by closing its tab")
    big = folder / "big.safetensors"
    with open(big, "wb") as f:
        f.truncate(150 * 2**20)  # under Streamlit's 200 MB limit; loopback takes a second or two to send it
    for i in range(rounds):
        page = new_page(browser)
        uploader = open_upload(page, server.url)
        with page.expect_request(lambda r: r.method == "PUT" and "upload_file" in r.url):
            uploader.set_input_files(str(big))
        page.wait_for_timeout(100)  # part of the body sent
        page.context.close()
        time.sleep(2)
        n, first = log.new()
        row.add(f"cut-off upload {i + 1}", "refused", first, tracebacks=n, crashed=server.proc.poll() is not None)
    big.unlink()
    return row


def folder_row(browser: Any, server: AppServer, files: list[str], source: str, key: str, log: LogWatch) -> Row:
    """Choose each file of a folder the server lists (trained/ or the saves folder) in the sidebar's box."""
    row = Row(f"checkpoints listed from {'trained/' if source == 'Bundled' else 'the saves folder'}")
    page = new_page(browser)
    page.goto(f"{server.url}/map")
    page.locator(f"{SIDEBAR} label", has_text=source).first.click()
    page.locator(f".st-key-{key} [role='combobox']").wait_for()
    wait_idle(page)
    for name in files:
        box = page.locator(f".st-key-{key} [role='combobox']")
        box.click()
        page.keyboard.type(name[:4])  # hNN-: a short list (the filter is fuzzy), then the one option
        page.get_by_role("option", name=re.compile("^" + re.escape(name) + " ")).click()
        row.add(name, *judge_model(page, name, log, lambda: server.proc.poll() is None))
    page.context.close()
    return row


def new_page(browser: Any) -> Any:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


# -- forged component values on the websocket -------------------------------------------------------------------
class Forger:
    """Rewrites the map's next "pick" trigger on its way to the server: the page sends a real click through its
    own component API (root.__trigger, explorer/web/streamlit/latent_map.js), and the websocket frame leaves with
    `pending`, raw JSON that the page's JSON.stringify could never write (1e400, 400 digits, 20,000 events)."""

    def __init__(self) -> None:
        self.pending: str | None = None

    def route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda m: server.send(self.rewrite(m)))
        server.on_message(lambda m: ws.send(m))

    def rewrite(self, message: str | bytes) -> str | bytes:
        if self.pending is None or isinstance(message, str):
            return message
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg.FromString(message)
        if msg.WhichOneof("type") == "rerun_script":
            for w in msg.rerun_script.widget_states.widgets:
                if w.WhichOneof("value") == "json_trigger_value" and '"pick"' in w.json_trigger_value:
                    w.json_trigger_value, self.pending = self.pending, None
                    return msg.SerializeToString()
        return message


FORGED = {  # tests/test_hostile_small.py's forged clicks, and index and type forgeries of the same kind
    "z = [1e400, 1]": '{"z": [1e400, 1]}', "z of a 401-digit integer": '{"z": [1' + "0" * 400 + ', 1]}',
    "z = [1e300, 1]": '{"z": [1e300, 1]}', "z = [-1e7, 0]": '{"z": [-1e7, 0]}', "z = [true, 0]": '{"z": [true, 0]}',
    "index -1": '{"index": -1}', "index 1e400": '{"index": 1e400}', "a string": '"x"',
}
REFUSED_CLICK = "The map sent a click"
FLOOD = 20_000


def map_index(page: Any) -> str:
    return page.locator(".st-key-map_index input").input_value()


def forged_rows(browser: Any, server: AppServer, log: LogWatch, quick: bool) -> tuple[Row, Row, float]:
    """(the forged clicks, the flood, the flood's seconds from the click to the page idle again)."""
    clicks, flood = Row("forged map clicks on the websocket"), Row(f"{FLOOD:,} clicks in one websocket message")
    forger = Forger()
    page = new_page(browser)
    page.route_web_socket(re.compile(r".*/_stcore/stream"), forger.route)
    page.goto(f"{server.url}/map")
    page.wait_for_selector(".vx-root[data-ready='1']")
    wait_idle(page)
    root = page.locator(".vx-root").first
    n = int(root.evaluate("r => r.__map.coords.length / 2"))
    forged = dict(list(FORGED.items())[::3]) if quick else FORGED
    for k, (name, value) in enumerate(forged.items()):
        real = k + 1  # a real click first: the page answers it, and the last refusal's message is gone
        root.evaluate("(r, i) => r.__trigger('pick', {index: i})", real)
        page.wait_for_function("(i) => document.querySelector('.st-key-map_index input')?.value == String(i)", arg=real)
        wait_idle(page)
        forger.pending = f'[{{"event": "pick", "value": {value}}}]'
        root.evaluate("r => r.__trigger('pick', {z: [0.25, -0.25]})")
        try:
            page.get_by_text(REFUSED_CLICK).first.wait_for()
            wait_idle(page)
            said = [t for kind, t in alerts(page) if REFUSED_CLICK in t]
            ok = len(said) == 1 and map_index(page) == str(real) and forger.pending is None
            outcome, why = ("refused", "") if ok else ("not clean", f"messages {said}, index {map_index(page)}")
        except Exception as e:
            outcome, why = "no answer", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        t, first = log.new()
        clicks.add(name, outcome, why or first, boxes(page), t, server.proc.poll() is not None)
    # the flood: every event a real index, so the last one (the one that must win) is checked
    last = (FLOOD - 1) % n
    forger.pending = json.dumps([{"event": "pick", "value": {"index": i % n}} for i in range(FLOOD)])
    t0 = time.perf_counter()
    root.evaluate("r => r.__trigger('pick', {index: 0})")
    try:
        page.wait_for_function("(i) => document.querySelector('.st-key-map_index input')?.value == String(i)",
                               arg=last)
        wait_idle(page)
        outcome, why = "refused", ""  # handled once, its last click wins: what "refused cleanly" means for a flood
    except Exception as e:
        outcome, why = "no answer", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    seconds = time.perf_counter() - t0
    t, first = log.new()
    flood.add("flood", outcome, why or first, boxes(page), t, server.proc.poll() is not None)
    page.context.close()
    return clicks, flood, seconds


# -- absurd values in the Train page's form ---------------------------------------------------------------------
FORMS: list[tuple[str, dict[str, str], bool]] = [  # (name, form values, refused by the memory budget)
    ("Hidden sizes 2000000 (the issue's)", {"train_hidden": "2000000"}, True),
    ("Hidden sizes 16777216,16777216", {"train_hidden": "16777216,16777216"}, True),
    ("Batch 65536, IWAE k 1000, latent 256", {"train_batch_size": "65536", "train_iwae_k": "1000",
                                               "train_latent": "256"}, True),
    ("conv, 100000 channels", {"arch": "conv", "train_hidden": "100000"}, True),
    ("Hidden sizes 10^300", {"train_hidden": "1" + "0" * 300}, False),
    ("100,000 hidden layers of 8", {"train_hidden": ",".join(["8"] * 100_000)}, False),
]


def form_row(browser: Any, server: AppServer, log: LogWatch, rss: TreeRSS, quick: bool) -> tuple[Row, dict]:
    """Each value started in a fresh session's Train page (MNIST, the form's default); for each, the server's
    peak resident memory while it is refused, its RSS before (MB), the seconds to the answer, and the answer."""
    row, peaks = Row("absurd Train-form values, started"), {}
    for name, values, budget in FORMS[::2] if quick else FORMS:
        rss.case, before = f"form: {name}", tree_rss_kb(server.proc.pid)
        page = new_page(browser)
        page.goto(f"{server.url}/train")
        page.locator("button:has-text('Start training')").first.wait_for()
        wait_idle(page)
        for key, value in values.items():
            if key == "arch":
                page.locator(".st-key-train_arch").get_by_text(value, exact=True).click()
            else:
                box = page.locator(f".st-key-{key} input")
                box.fill(value)
                box.press("Tab")
            wait_idle(page)
        t0, said = time.perf_counter(), []
        page.get_by_role("button", name="Start training").click()
        try:
            page.get_by_text(re.compile("Cannot start|Training · epoch|Waiting for a free")).first.wait_for()
            wait_idle(page)
            errors = [t for kind, t in alerts(page, "[data-testid='stMain']") if kind == "Error"]
            said = [t for t in errors if "Cannot start" in t]
            words = not budget or any("would need about" in t and f"budget of {BUDGET_MB:,} MB" in t for t in said)
            if len(said) == 1 and len(errors) == 1 and words:
                outcome, why = "refused", ""
            else:
                outcome, why = "not clean", f"errors {errors}"[:300]
            if page.get_by_text(re.compile("Training · epoch|Waiting for a free")).count():
                outcome, why = "started", "it trains, or waits for a slot to train"
                page.locator(".st-key-train_stop button").first.click()
        except Exception as e:
            outcome, why = "no answer", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        seconds = time.perf_counter() - t0
        time.sleep(1)  # a last sample or four after the refusal
        peak = rss.peaks.get(rss.case, 0)
        peaks[name] = (peak / MB, before / MB, seconds, said[0] if said else "")
        if peak - before > BUDGET_MB * MB:  # what one request may add: the budget
            outcome, why = "over budget", f"RSS rose by {(peak - before) / MB:,.0f} MB in {seconds:.0f} s"
        t, first = log.new()
        row.add(name, outcome, why or first, boxes(page), t, server.proc.poll() is not None)
        page.context.close()
    rss.case = None
    return row, peaks


# -- a copied cookie after a teacher's reset (tests/test_browser_token.py's steps, each one counted) -----------
def cookie_row(browser: Any, server: AppServer, saves: Path) -> Row:
    """Each check reads what stays on the page (the browser's id, the training's state), not the one-run notice
    "Your training ... is here again": in one run B's page had A's training and not the notice (not understood)."""
    import hashlib

    from tests import test_browser_token as tok

    row = Row("a copied cookie after a teacher's reset")
    ctx_a, ctx_b = tok.context(browser), tok.context(browser)
    a, b = ctx_a.new_page(), ctx_b.new_page()
    got: dict[str, str] = {}

    def step(name: str, outcome: str, check: Callable[[], None]) -> None:
        try:
            check()
            row.add(name, outcome)
        except Exception as e:
            row.add(name, "failed", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")

    def a_trains_saves_and_trains_on() -> None:
        tok.train_digits(a, server, epochs="5000", batch_size="3")  # still training when the steps end
        a.get_by_role("button", name="Start training").click()
        tok.expect(a.get_by_text("Training · epoch")).to_be_visible()
        tok.stop_button(a).click()
        tok.expect(a.get_by_text("Stopped · epoch")).to_be_visible()
        a.get_by_role("button", name="Save on this server").click()
        tok.expect(a.get_by_text("Saved digits-vae-z2-")).to_be_visible()
        got["saved"] = a.locator(".st-key-train_save_name input").input_value()
        got["token"] = tok.token_of(ctx_a)["value"]
        a.get_by_role("button", name="Resume").click()
        tok.expect(a.get_by_text("Training · epoch")).to_be_visible()

    def b_with_the_copy_is_a() -> None:  # before the reset: the attack is real
        ctx_b.add_cookies([{"name": "vaex_token", "value": got["token"], "url": server.url, "httpOnly": True,
                            "sameSite": "Strict"}])
        tok.open_page(b, server, "train", "button:has-text('Start training')")
        tok.expect(b.get_by_text(tok.short_id(got["token"]), exact=True)).to_be_visible()
        tok.expect(b.get_by_text("Training · epoch")).to_be_visible()
        got["link"] = tok.reset(server, tok.short_id(got["token"]))  # the teacher's command, a process of its own

    def open_page_loses_it() -> None:
        tok.nav(b, "Latent map")
        tok.nav(b, "Train")
        tok.expect(b.get_by_role("button", name="Start training")).to_be_enabled()
        tok.expect(b.get_by_text("Training · epoch")).to_have_count(0)

    def reload_has_no_rights() -> None:
        b.reload()
        b.locator("button:has-text('Start training')").wait_for()
        wait_idle(b)
        assert tok.token_of(ctx_b)["value"] != got["token"], "the copied cookie was kept"
        tok.expect(b.get_by_text("Training · epoch")).to_have_count(0)
        tok.expect(b.get_by_text(tok.short_id(got["token"]), exact=True)).to_have_count(0)

    def claim_gives_it_back() -> None:
        a.goto(got["link"])
        tok.expect(a.get_by_text("Training · epoch")).to_be_visible()
        token_a2 = tok.token_of(ctx_a)["value"]
        tok.expect(a.get_by_text(tok.short_id(token_a2), exact=True)).to_be_visible()
        assert tok.owners(saves)[got["saved"]] == hashlib.sha256(token_a2.encode()).hexdigest()[:16], \
            "the saved file is not A's again"

    def used_link_gives_nothing() -> None:
        b.goto(got["link"])
        b.locator("button:has-text('Start training')").wait_for()
        wait_idle(b)
        tok.expect(b.get_by_text("Training · epoch")).to_have_count(0)

    for name, outcome, check in [("A trains, saves, trains on", "accepted", a_trains_saves_and_trains_on),
                                 ("B with a copy of A's cookie is A, before the reset", "accepted",
                                  b_with_the_copy_is_a),
                                 ("B's open page after the reset", "refused", open_page_loses_it),
                                 ("B reloads with the copied cookie", "refused", reload_has_no_rights),
                                 ("A's claim link: the training and the file back", "accepted", claim_gives_it_back),
                                 ("B opens the used claim link", "refused", used_link_gives_nothing)]:
        if row.notes:  # a step failed: the later ones would measure nothing
            break
        step(name, outcome, check)
    row.boxes += boxes(a) + boxes(b)
    def a_stops() -> None:  # and is seen to: a training left running would hold the slot and two cores
        tok.stop_button(a).click()
        tok.expect(a.get_by_text("Stopped · epoch")).to_be_visible()

    step("A stops its training", "accepted", a_stops)
    ctx_a.close()
    ctx_b.close()
    return row


# -- processes saving at once (tests/test_hostile_saves.py's SAVER) ----------------------------------------------
def soak(browser: Any, server: AppServer, folder: Path, rounds: int) -> list[float]:
    """Upload a 19 MB checkpoint into a new tab and close it, `rounds` times: the server's RSS (MB) after the
    first and the last, once their sessions have ended (the server runs with a TTL of 1 s), the trend between.
    test_browser_soak.upload_and_close's round, but this server opens on a bundled model, so the round waits
    for the upload's own card before its map (closing earlier would cut the upload off, the row above)."""
    from tests.test_browser_soak import TTL_S, settled_rss_mb, wide_checkpoint

    ckpt = wide_checkpoint(folder)
    series = []
    for i in range(rounds):
        page = new_page(browser)
        open_upload(page, server.url).set_input_files(str(ckpt))
        page.locator(f"{SIDEBAR} [data-testid='stText']", has_text=ckpt.name).wait_for()
        page.wait_for_selector(".vx-root[data-ready='1']")  # encoded, projected, blob sent and drawn
        wait_idle(page)
        page.context.close()
        series.append(settled_rss_mb(server.proc.pid, TTL_S + 2.5 if i in (0, rounds - 1) else 0))
    return series


# -- the campaign --------------------------------------------------------------------------------------------
