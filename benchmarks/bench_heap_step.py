"""What the app's heap settings (explorer/jobs/heap.py) do to a training step: the same steps in a fresh process
with glibc's defaults and with the settings (through glibc's environment variables), alternated round by round.
Milliseconds a step (best of 5 x 10 steps in each process), medians over the rounds; one torch thread.

    python -m benchmarks.bench_heap_step [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from explorer.jobs.heap import SETTINGS

STEPS = """
import json, time, torch
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
torch.set_num_threads(1)
torch.manual_seed(0)
out = {}
for name, cfg, batch in (("conv 32-64, batch 128", ModelConfig(latent_dim=2, arch="conv", hidden=(32, 64)), 128),
                         ("conv 32-64, batch 512", ModelConfig(latent_dim=2, arch="conv", hidden=(32, 64)), 512),
                         ("MLP 1000-1000, batch 512", ModelConfig(latent_dim=2, hidden=(1000, 1000)), 512)):
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters())
    x = torch.rand(batch, 1, 28, 28).bernoulli()

    def step():
        q = model.encode(x)
        loss = -(model.decode(q.rsample()).log_prob(x).sum(-1)
                 - torch.distributions.kl_divergence(q, model.prior).sum(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            step()
        times.append((time.perf_counter() - t) / 10 * 1000)
    out[name] = min(times)
print(json.dumps(out))
"""


def run(tuned: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if tuned:
        env.update({name: str(value) for _, value, name in SETTINGS})
    out = subprocess.run([sys.executable, "-c", STEPS], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(a.rounds):
        for tuned in (False, True):
            runs[tuned].append(run(tuned))
    print("| step | glibc's defaults | the app's settings |")
    print("|---|---|---|")
    for name in runs[False][0]:
        base, tuned = (statistics.median(r[name] for r in runs[t]) for t in (False, True))
        print(f"| {name} | {base:.1f} ms | {tuned:.1f} ms |")


if __name__ == "__main__":
    main()
