"""What one browser message of N map clicks costs the server (issue 25, item 6), with the callbacks grouped once per
message (explorer/ui/state/once_per_message.py) and, as the baseline in the same run, called once per event as
before. AppTest runs the real app script in this process; the message is forged as a websocket message would be.

    python -m benchmarks.bench_flood [--events 1000,5000,20000] [--reps 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from tests.test_flood import MNIST, REPO, flood


def app(trained: Path):
    from streamlit.testing.v1 import AppTest

    os.environ["EXPLORER_TRAINED_DIR"] = str(trained)
    return AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=3600).run()


def seconds(trained: Path, events: int, grouped: bool) -> float:
    from explorer.ui.state import once_per_message as opm

    clicks = [{"event": "pick", "value": {"index": i % 10_000}} for i in range(events)]
    with mock.patch.object(opm, "once_per_message", opm.once_per_message if grouped else lambda name, cb: cb):
        at = app(trained)
        t0 = time.perf_counter()
        flood(at, "latent_canvas", clicks)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", default="1000,5000,20000")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    import torch

    from explorer.model.config import ModelConfig
    from explorer.model.latent_model import build_model
    from explorer.store.checkpoint import save_model

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        model = build_model(ModelConfig(image_shape=(1, 28, 28), latent_dim=2, kind="vae", hidden=(16,))).eval()
        save_model(model, Path(d) / "vae2.safetensors", dataset=MNIST, status="finished")
        for n in (int(v) for v in args.events.split(",")):
            once = statistics.median(seconds(Path(d), n, True) for _ in range(args.reps))
            each = statistics.median(seconds(Path(d), n, False) for _ in range(max(1, args.reps if n <= 5000 else 1)))
            print(f"{n:,} clicks in one message: {once:.2f} s once per message, {each:.2f} s once per event "
                  f"(x{each / once:.1f})")


if __name__ == "__main__":
    main()
