"""A class opening the map at once, as the benchmarks drive it: pages that say when their map is drawn, and a
file cache warmed before class (`python -m explorer warm`). benchmarks/map_open.py and load_class.py use it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.browser_harness import REPO

# Each page says when its map is drawn (a console line) instead of being asked ten times a second: eight pages
# polled through Playwright cost the machine about 3 CPU-s of the benchmark's own, on the 2 cores being measured.
# Components draw in shadow roots, so every shadow root is watched as it is made.
def ready_script(selector: str = ".vx-root[data-ready='1']") -> str:
    """An init script that logs "vx-map-drawn" once an element matching selector is in the page."""
    return """(() => { let said = false;
  const check = (root) => { if (!said && root.querySelector(%s)) {
    said = true; console.log("vx-map-drawn"); } };
  const watch = (root) => new MutationObserver(() => check(root)).observe(root,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["data-ready"]});
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (o) { const r = attach.call(this, o); watch(r); return r; };
  watch(document); })();""" % json.dumps(selector)


READY_SCRIPT = ready_script()


def drawn_at(i: int, t0: dict, done: dict):
    """Page i's console listener (with READY_SCRIPT): done[i] = its open -> map seconds, counted from t0[i]."""
    def seen(msg) -> None:
        if msg.text == "vx-map-drawn":
            done.setdefault(i, time.perf_counter() - t0[i])
    return seen


def warm(models: list[str], cache_dir: Path, projections: str) -> float:
    """`python -m explorer warm` into cache_dir, as a teacher runs it before class; its seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "explorer", "warm", "--quiet", "--projections", projections, "--models",
                    *models], cwd=REPO, check=True,
                   env={**os.environ, "EXPLORER_CACHE_DIR": str(cache_dir)})
    return time.perf_counter() - t0
