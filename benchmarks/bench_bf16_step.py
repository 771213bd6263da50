"""One training step of the 784-400-20 VAE (batch 128, fused Adam) in float32 and under bf16 autocast,
alternating in one run; prints the median ms per step of each and their ratio. Whether bf16 pays on
this CPU decides whether the trainer should offer it (without AMX it does not).

    python -m benchmarks.bench_bf16_step --threads 1
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from explorer import ModelConfig, build_model
from explorer.model.objectives import objective


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=12, help="alternating repeats of --steps steps each")
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    x = torch.rand(args.steps * 128, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    runs = {}
    for name in ("float32", "bf16"):
        torch.manual_seed(0)
        m = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(400,), latent_dim=20, activation="relu"))
        runs[name] = (m, torch.optim.Adam(m.parameters(), lr=1e-3, fused=True))
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, (m, opt) in runs.items():
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16" else contextlib.nullcontext()
            t0 = time.perf_counter()
            for xb in x.split(128):
                with ctx:
                    loss = objective(m, xb, xb).loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    med = {k: statistics.median(v[2:] if len(v) > 4 else v) for k, v in times.items()}  # first repeats warm up
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: float32 {med['float32']:.2f} ms/step, "
          f"bf16 autocast {med['bf16']:.2f} ms/step, bf16 speed {med['float32'] / med['bf16']:.2f}x float32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
