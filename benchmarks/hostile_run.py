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
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchmarks.load_class import PeakRSS
from tests.browser_harness import REPO, VIEWPORT, AppServer, launch, missing_browser, wait_idle
from tests.hostile_files import good_bytes, hostile

BUDGET_MB = 1500
TIMEOUT_MS = 180_000
MB = 1024  # kB in a MB: /proc reports kB


# -- what a row counts ----------------------------------------------------------------------------------------
@dataclass
class Row:
    attack: str
    tried: int = 0
    refused: int = 0  # refused cleanly: one message, one line
    accepted: int = 0  # a good control, accepted as it should be
    boxes: int = 0  # Streamlit's exception boxes on the page
    tracebacks: int = 0  # in the server's log or a command's stderr
    crashes: int = 0  # the server gone, a command killed by a signal
    notes: list[str] = field(default_factory=list)  # every case that was neither, and why

    def add(self, name: str, outcome: str, why: str = "", boxes: int = 0, tracebacks: int = 0,
            crashed: bool = False) -> None:
        """outcome: "refused" or "accepted" when clean, anything else is a finding, said in `why`."""
        self.tried += 1
        self.boxes, self.tracebacks, self.crashes = self.boxes + boxes, self.tracebacks + tracebacks, \
            self.crashes + crashed
        clean = not (boxes or tracebacks or crashed)
        if clean and outcome == "refused":
            self.refused += 1
        elif clean and outcome == "accepted":
            self.accepted += 1
        else:
            self.notes.append(f"{name}: {why or outcome}"[:300])


class TreeRSS(PeakRSS):
    """PeakRSS over a process and its children (the server trains in threads, but a child would count), with
    the peak of each phase, and of each case within one, kept apart (`phase` and `case` name those running)."""

    def __init__(self, pid: int, every_s: float = 0.25):
        super().__init__(pid, every_s)
        self.phase, self.case, self.peaks = "start", None, {}

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = tree_rss_kb(self.pid)
            self.peak_kb = max(self.peak_kb, kb)
            for key in (self.phase, self.case or self.phase):
                self.peaks[key] = max(self.peaks.get(key, 0), kb)
            self._stop.wait(self.every_s)


def tree_rss_kb(pid: int) -> int:
    """VmRSS of pid and its descendants. A child with the server's own command line is a fork on its way to an
    exec (something in the server runs a subprocess now and then): it shares the server's pages, and adding its
    VmRSS would count them twice (a phase that never touched the server peaked 550 MB higher that way)."""
    def status(p: int) -> tuple[int, bytes]:
        kb = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
        return (int(kb.group(1)) if kb else 0), Path(f"/proc/{p}/cmdline").read_bytes()

    try:
        total, own = status(pid)
    except OSError:
        return 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            children = [int(c) for task in Path(f"/proc/{p}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except OSError:  # gone meanwhile
            continue
        for c in children:
            try:
                kb, cmdline = status(c)
            except OSError:
                continue
            if cmdline != own:
                total += kb
                todo.append(c)
    return total


class LogWatch:
    """Tracebacks the server logged since the last look."""

    def __init__(self, path: Path):
        self.path, self.at = path, 0

    def new(self) -> tuple[int, str]:
        """(tracebacks since the last look, the first one's exception and innermost frame, in a line)."""
        text = self.path.read_text(errors="replace")
        new, self.at = text[self.at:], len(text)
        if "Traceback" not in new:
            return 0, ""
        lines = new[new.find("Traceback"):].splitlines()[1:]
        end = next((i for i, line in enumerate(lines) if line and not line[0].isspace()), len(lines))
        frames = [line.strip() for line in lines[:end] if line.strip().startswith("File ")]
        # the innermost frame of ours or Streamlit's says where; starlette's and uvicorn's only how it got there
        frame = next((f for f in reversed(frames) if "streamlit" in f or str(REPO) in f), frames[-1] if frames else "")
        frame = re.sub(r'"[^"]*site-packages/', '"', frame)
        return new.count("Traceback"), f"{lines[end] if end < len(lines) else '?'} ({frame})"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]


def crafted(folder: Path, quick: bool) -> list[tuple[str, bytes]]:
    """The good file first (the control that shows a refusal means something), then each hostile one, named
    hNN-<case> so a page's message can be matched to its file; --quick keeps every third."""
    cases = hostile(folder)
    if quick:
        cases = cases[::3]
    return [("h00-good", good_bytes(folder))] + [(f"h{i:02d}-{slug(n)}", data) for i, (n, data) in
                                                 enumerate(cases, 1)]


# -- (c) the command line ---------------------------------------------------------------------------------------
# tests/test_hostile.py's commands and those it leaves out (neighbours, attribute, warm), with settings short
# enough for the good control to run them all, and outputs (a resume's too) away from the file under test
COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "info": lambda f, d: ["info", f],
    "info --json": lambda f, d: ["info", f, "--json"],
    "evaluate": lambda f, d: ["evaluate", f, "--k", "2", "--n", "4", "--quiet", "--device", "cpu"],
    "sample": lambda f, d: ["sample", f, "--n", "4", "--out", str(d / "s.png"), "--device", "cpu"],
    "encode": lambda f, d: ["encode", f, "--n", "4", "--quiet", "--out", str(d / "c.npz")],
    "neighbours": lambda f, d: ["neighbours", f, "--index", "0", "--k", "3", "--out", str(d / "n.png")],
    "interpolate": lambda f, d: ["interpolate", f, "--a", "0", "--b", "1", "--steps", "2", "--out", str(d / "i.png")],
    "attribute": lambda f, d: ["attribute", f, "--from-label", "0", "--to-label", "1", "--apply", "2",
                               "--strengths", "0,1", "--out", str(d / "a.png")],
    "estimators": lambda f, d: ["estimators", f, "--n", "2", "--k", "4", "--repeats", "2", "--grad-repeats", "2",
                                "--steps", "2", "--device", "cpu"],
    "train --resume": lambda f, d: ["train", "--resume", f, "--epochs", "2", "--threads", "1", "--quiet",
                                    "--out", str(d / "r.safetensors")],
    "export-html": lambda f, d: ["export-html", f, "--n", "4", "--out", str(d / "m.html")],
    "warm": lambda f, d: ["warm", "--models", f, "--projections", "pca", "--quiet"],
}

# One process per command goes through every file, calling what `python -m explorer` calls: a process per
# file and command would be 500 interpreter starts (~20 minutes here). START before each call says which
# file a process killed by a signal was on; the rest then go to a fresh process.
DRIVER = """
import contextlib, io, json, sys, traceback
from explorer.cli import main
for label, argv in json.load(open(sys.argv[1])):
    print("START", json.dumps(label), flush=True)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        err.write(traceback.format_exc())
        code = -1
    print("DONE", json.dumps([label, code, err.getvalue()]), flush=True)
"""


def cli_row(files: list[tuple[str, Path]], work: Path, env: dict[str, str]) -> Row:
    row = Row(f"checkpoints x {len(COMMANDS)} CLI commands (a process per command)")
    before = {name: path.read_bytes() for name, path in files}
    for command, argv in COMMANDS.items():
        todo = [(name, argv(str(path), work)) for name, path in files]
        while todo:
            (work / "calls.json").write_text(json.dumps(todo))
            p = subprocess.run([sys.executable, "-c", DRIVER, str(work / "calls.json")], cwd=work, env=env,
                               capture_output=True, text=True, timeout=600)
            done, started = set(), None
            for line in p.stdout.splitlines():
                if line.startswith("START "):
                    started = json.loads(line[6:])
                elif line.startswith("DONE "):
                    name, code, err = json.loads(line[5:])
                    done.add(name)
                    row.add(f"{command} {name}", *cli_outcome(name, code, err),
                            tracebacks=err.count("Traceback"))
            if p.returncode < 0 and started not in done:  # killed by a signal on `started`
                row.add(f"{command} {started}", "crash", f"killed by signal {-p.returncode}", crashed=True)
                done.add(started)
            elif p.returncode != 0 or "Traceback" in p.stderr:
                row.notes.append(f"{command}: driver exit {p.returncode}: {p.stderr[-300:]}")
            todo = [t for t in todo if t[0] not in done]
            if p.returncode >= 0:
                break  # all of them ran (a non-zero exit here is the driver's own, noted above)
    changed = [name for name, path in files if path.read_bytes() != before[name]]
    row.notes += [f"{name}: a command changed the file" for name in changed]
    return row


def cli_outcome(name: str, code: int, err: str) -> tuple[str, str]:
    if name.endswith("-good"):
        return ("accepted", "") if code == 0 else ("failed", f"exit {code}: {err.strip()[:200]}")
    one_line = err.startswith("error: ") and err.count("\n") == 1
    if code != 0 and one_line:
        if "EXPLORER_DEBUG" in err:  # one line, but only by the catch-all: what raised was not foreseen
            return "caught by the catch-all", err.strip()
        return "refused", ""
    return "not clean", f"exit {code}: {err.strip()[:200]!r}"


# -- (a), (b) the page ------------------------------------------------------------------------------------------
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
def saves_row(folder: Path, procs: int = 4, n: int = 25) -> tuple[Row, int]:
    """procs x n saves into the server's own saves folder; (the row, owner entries lost: the saves' own and any
    that were there before)."""
    sys.path.insert(0, str(REPO / "tests"))  # test_hostile_saves imports hostile_files as the tests see it
    from explorer.store import saves
    from tests.test_hostile_saves import SAVER

    row = Row(f"{procs} processes x {n} saves into one saves folder")
    index = folder / saves.OWNERS
    before = json.loads(index.read_text()) if index.exists() else {}
    go, ready = folder.parent / "go", folder.parent
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    running = [subprocess.Popen([sys.executable, "-c", SAVER, str(folder), f"p{k}", str(n), str(go)], env=env,
                                stderr=subprocess.PIPE, text=True) for k in range(procs)]
    deadline = time.monotonic() + 120
    while len(list(ready.glob("ready-p*"))) < procs and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # all at once
    errs = [p.communicate(timeout=300)[1] for p in running]
    owners = json.loads(index.read_text())
    want = {**before, **{f"p{k}-{i}.safetensors": f"p{k}" for k in range(procs) for i in range(n)}}
    lost = [name for name, who in want.items() if owners.get(name) != who]
    for k, (p, err) in enumerate(zip(running, errs)):
        for i in range(n):
            name = f"p{k}-{i}.safetensors"
            ok = owners.get(name) == f"p{k}" and (folder / name).exists()
            row.add(f"p{k} save {i}", "accepted" if ok else "lost", "owner entry lost",
                    tracebacks=err.count("Traceback") if i == 0 else 0, crashed=p.returncode < 0 and i == 0)
    row.notes += [f"an entry from before the run lost: {name}" for name in lost if name in before]
    return row, len(lost)


# -- the upload soak (tests/test_browser_soak.py's procedure, on this server) ------------------------------------
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
def table(rows: list[Row]) -> str:
    head = ("| attack | tried | refused cleanly | good controls accepted | error boxes | tracebacks | crashes |\n"
            "|---|---:|---:|---:|---:|---:|---:|")
    total = Row("**all**", *(sum(getattr(r, k) for r in rows) for k in
                             ("tried", "refused", "accepted", "boxes", "tracebacks", "crashes")))
    return "\n".join([head] + [f"| {r.attack} | {r.tried} | {r.refused} | {r.accepted} | {r.boxes} | "
                               f"{r.tracebacks} | {r.crashes} |" for r in rows + [total]])


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
