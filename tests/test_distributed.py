"""`torchrun -m explorer train` with 2 CPU processes (gloo): one writer, one log, synchronised weights, and
ranks that see a stop request or a non-finite loss alone still leave training together."""
from __future__ import annotations

import json
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
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


def launch(*args: str, cwd: Path) -> tuple[list[str], dict]:
    """The torchrun command line for `args` (a script or -m module and its arguments), and its environment."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", *args]
    return cmd, env


def children(pid: int) -> list[int]:
    """Process ids whose parent is pid (torchrun's workers run in sessions of their own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_launch(proc: subprocess.Popen) -> None:
    """Kill torchrun and its workers: killing torchrun alone would leave a hung worker running on."""
    for pid in children(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.kill()


def run_launch(cmd: list[str], env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A rank waiting forever on a collective fails the test instead of hanging the suite.
        kill_launch(proc)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s (a rank left waiting on a collective?)\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def torchrun(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_launch(*launch("-m", "explorer", "train", *args, cwd=cwd), cwd=cwd, timeout=timeout)


def torchrun_worker(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120
                    ) -> subprocess.CompletedProcess:
    cmd, base = launch(str(REPO / "tests" / "ddp_worker.py"), *args, cwd=cwd)
    return run_launch(cmd, {**base, **(env or {})}, cwd=cwd, timeout=timeout)


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


# -- ranks that see different things still stop together -------------------------------------------
# Without agreement, a rank that stops or diverges alone leaves the other waiting forever in DDP's
# gradient all-reduce (or killed by torchrun without a checkpoint). The timeouts turn that into a failure.
GAUSSIAN_AE = ["--dataset", "digits", "--kind", "ae", "--likelihood", "gaussian", "--binarize", "none",
               "--hidden", "32", "--latent", "2", "--epochs", "2", "--batch-size", "40", "--threads", "1", "--quiet"]


def test_a_nan_loss_on_one_rank_stops_every_rank_with_the_last_good_weights(tmp_path: Path) -> None:
    # Step 3 of epoch 1: one image of rank 1's shard holds a NaN pixel; rank 0's shard is finite.
    r = torchrun_worker("cli", *GAUSSIAN_AE, "--out", "nan.safetensors", cwd=tmp_path, env={"POISON_STEP": "3"})
    assert r.returncode == 1, r.stdout + r.stderr
    # Both ranks leave fit() at the same step with the same message (each CLI process prints its error).
    assert r.stderr.count("error: training diverged: loss became nan at step 3 (epoch 1)") == 2, r.stderr
    model = load_model(tmp_path / "nan.safetensors")
    assert model.metadata["status"] == "diverged"
    assert model.metadata["history"]["state"]["step"] == 2  # the last good step
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert "loss became nan at step 3 (epoch 1)" in r.stdout and "checkpoint written to nan.safetensors" in r.stdout


@pytest.mark.parametrize("stopper", [0, 1], ids=["rank0-stops", "rank1-stops"])
def test_a_stop_seen_by_one_rank_stops_every_rank_at_the_same_step(tmp_path: Path, stopper: int) -> None:
    r = torchrun_worker("stop", str(stopper), "3", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    results = sorted((json.loads(line[len("RESULT "):]) for line in r.stdout.splitlines()
                      if line.startswith("RESULT ")), key=lambda x: x["rank"])
    assert [x["rank"] for x in results] == [0, 1], r.stdout
    for x in results:
        assert (x["world"], x["status"], x["message"], x["step"]) == (2, "stopped", "stopped at step 3", 3)
    assert results[0]["checksum"] == pytest.approx(results[1]["checksum"], rel=0, abs=1e-9)  # same weights


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    ranks = [int(e[len(b"RANK="):]) for e in env if e.startswith(b"RANK=")]
    return ranks[0] if ranks else None


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="finding torchrun's workers needs /proc")
def test_ctrl_c_in_one_worker_stops_every_rank_and_writes_the_checkpoint(tmp_path: Path) -> None:
    cmd, env = launch("-m", "explorer", "train", "--dataset", "digits", "--hidden", "32", "--latent", "2",
                      "--epochs", "1000", "--batch-size", "16", "--threads", "1", "--quiet",
                      "--out", "int.safetensors", cwd=tmp_path)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: queue.Queue = queue.Queue()
    err: list[str] = []

    def read_out() -> None:
        for line in proc.stdout:
            out.put(line)
        out.put(None)

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in readers:
        t.start()
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("epoch") for line in lines):
            line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "torchrun ended before the first epoch"
            lines.append(line)
        workers = {_rank_of(pid): pid for pid in children(proc.pid)}
        assert set(workers) >= {0, 1}, workers
        os.kill(workers[1], signal.SIGINT)  # Ctrl-C reaching one worker only
        proc.wait(timeout=120)
    except (queue.Empty, subprocess.TimeoutExpired):
        kill_launch(proc)
        pytest.fail(f"torchrun did not stop in time (a rank left waiting on a collective?)\n{''.join(lines)}")
    finally:
        if proc.poll() is None:
            kill_launch(proc)
        for t in readers:
            t.join(10)
    while (line := out.get(timeout=10)) is not None:  # the rest of the output, up to the reader's end mark
        lines.append(line)
    text = "".join(lines)
    assert proc.returncode == 0, text + "".join(err)
    model = load_model(tmp_path / "int.safetensors")
    step = model.metadata["history"]["state"]["step"]
    assert model.metadata["status"] == "stopped"
    assert f"stopped at step {step}; checkpoint written to int.safetensors" in text, text
    assert step >= math.ceil(1438 / 16)  # after the first epoch, long before the last


@pytest.mark.parametrize("world, teardown", [("2", False), ("1", True)])
def test_exit_process_skips_python_teardown_only_under_torchrun(world: str, teardown: bool) -> None:
    # Under torchrun a gloo thread freeing a collective during interpreter teardown aborts the process
    # now and then; exit_process ends it before teardown (atexit never runs) with its output flushed.
    script = ("import atexit, sys\nfrom explorer.cli import exit_process\n"
              "atexit.register(lambda: sys.stdout.write(' teardown'))\n"
              "sys.stdout.write('trained'); sys.stderr.write('note')\nexit_process(3)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(REPO), "WORLD_SIZE": world})
    assert (r.returncode, r.stdout, r.stderr) == (3, "trained teardown" if teardown else "trained", "note")


def test_two_processes_encode_the_same_file_as_one(tmp_path: Path) -> None:
    # 1,797 digits in chunks of 97: 19 chunks, 10 for rank 0 and 9 for rank 1, the last one short.
    ckpt = str(REPO / "trained" / "digits_vae2.safetensors")
    args = ["encode", ckpt, "--split", "both", "--chunk", "97", "--threads", "1", "--quiet"]
    env_cache = {"EXPLORER_CACHE_DIR": str(tmp_path / "cache-ddp")}  # nothing cached: both ranks encode
    cmd, env = launch("-m", "explorer", *args, "--out", "ddp.npz", cwd=tmp_path)
    r = run_launch(cmd, {**env, **env_cache}, cwd=tmp_path, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sum(line.startswith("wrote 1,797 codes to ddp.npz") for line in r.stdout.splitlines()) == 1
    assert "with 2 process(es)" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache-ddp", "ddp.npz"]  # one writer, no leftovers
    assert main([*args, "--out", str(tmp_path / "single.npz")]) == 0
    assert (tmp_path / "ddp.npz").read_bytes() == (tmp_path / "single.npz").read_bytes()
