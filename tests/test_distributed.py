"""`torchrun -m explorer train` with 2 CPU processes (gloo): one writer, one log, synchronised weights."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from explorer import load_model
from explorer.cli import main

REPO = Path(__file__).resolve().parents[1]
# A plain autoencoder on grey levels draws no random numbers while training, so 2 processes splitting
# each batch must end with the weights of 1 process taking it whole (up to float summation order).
# Batch 67 leaves a last batch of 31: shards of 16 and 15, which the loss weighting must handle.
DETERMINISTIC = ["--dataset", "digits", "--kind", "ae", "--binarize", "none", "--hidden", "32", "--latent", "2",
                 "--epochs", "2", "--batch-size", "67", "--threads", "1", "--quiet"]

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           f"--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "explorer", "train", *args]
    # The timeout turns a rank waiting forever on a collective into a failure instead of a hung suite.
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_two_processes_train_like_one(tmp_path: Path) -> None:
    r = torchrun(*DETERMINISTIC, "--out", "ddp.safetensors", "--metrics-out", "ddp.json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["ddp.json", "ddp.safetensors"]  # rank 0 alone writes, no temporary files left
    lines = r.stdout.splitlines()
    assert sum(line.startswith("training on digits") for line in lines) == 1
    assert [line.split()[1] for line in lines if line.startswith("epoch")] == ["1", "2"]
    assert sum("checkpoint written to ddp.safetensors" in line for line in lines) == 1

    ddp = load_model(tmp_path / "ddp.safetensors")
    assert [e["epoch"] for e in ddp.metadata["history"]["epochs"]] == [1, 2]
    assert [e["epoch"] for e in json.loads((tmp_path / "ddp.json").read_text())["epochs"]] == [1, 2]

    single_path = tmp_path / "single.safetensors"
    assert main(["train", *DETERMINISTIC, "--out", str(single_path)]) == 0
    single = load_model(single_path)
    # Unsynchronised ranks would each have stepped on half the data and differ by about the step size.
    for (name, a), b in zip(single.state_dict().items(), ddp.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5, msg=name)
    assert ddp.metadata["history"]["epochs"][-1]["test_elbo"] == pytest.approx(
        single.metadata["history"]["epochs"][-1]["test_elbo"], abs=1e-3)


def test_two_process_vae_learns_and_survives_a_last_batch_of_one(tmp_path: Path) -> None:
    # 1438 training digits = 3 * 479 + 1: the last batch has one example for two ranks and is dropped.
    r = torchrun("--dataset", "digits", "--hidden", "32", "--latent", "2", "--epochs", "3", "--batch-size", "479",
                 "--lr", "3e-3", "--threads", "1", "--quiet", "--out", "vae.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    epochs = load_model(tmp_path / "vae.safetensors").metadata["history"]["epochs"]
    assert [e["step"] for e in epochs] == [3, 6, 9]
    assert epochs[-1]["test_elbo"] > epochs[0]["test_elbo"]
