"""The upload soak of tests/test_browser_soak.py as a benchmark (issue 25, item 5): a fresh server, a checkpoint
uploaded into a new tab and the tab closed, N times; the server's RSS after each round, read once the session has
ended every --every rounds (and after the last). glibc's MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ in the environment replace the app's heap settings (explorer/jobs/heap.py).

    python -m benchmarks.bench_soak [--rounds 20] [--every 5] [--width 3000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.test_browser_soak import soak, wide_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--every", type=int, default=5, help="read the settled RSS every this many rounds")
    p.add_argument("--width", type=int, default=3000, help="the checkpoint's hidden width (3000: 19 MB)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = wide_checkpoint(Path(tmp), a.width)
        size = ckpt.stat().st_size / 2**20
        settled = {i for i in range(a.rounds) if i % a.every == 0} | {a.rounds - 1}
        t0 = time.monotonic()
        series = soak(Path(tmp), ckpt, a.rounds, settled)
    print(f"checkpoint {size:.1f} MB, {a.rounds} rounds in {time.monotonic() - t0:.0f} s")
    print("settled RSS (MB), round: " + ", ".join(f"{i + 1}: {series[i]:.0f}" for i in sorted(settled)))
    print(f"peak of the unsettled readings: {max(series):.0f} MB")


if __name__ == "__main__":
    main()
