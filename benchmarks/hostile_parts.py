"""The hostile run's parts that need no browser: its rows and their table, the server's memory and log as the
run watches them, the crafted files, the command line's commands, and processes saving at once
(benchmarks/hostile_run.py runs them)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from benchmarks.load_class import PeakRSS
from tests.browser_harness import REPO
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
def table(rows: list[Row]) -> str:
    head = ("| attack | tried | refused cleanly | good controls accepted | error boxes | tracebacks | crashes |\n"
            "|---|---:|---:|---:|---:|---:|---:|")
    total = Row("**all**", *(sum(getattr(r, k) for r in rows) for k in
                             ("tried", "refused", "accepted", "boxes", "tracebacks", "crashes")))
    return "\n".join([head] + [f"| {r.attack} | {r.tried} | {r.refused} | {r.accepted} | {r.boxes} | "
                               f"{r.tracebacks} | {r.crashes} |" for r in rows + [total]])
