"""Choosing a torch device, with a clear error for one that is not there."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch


class DeviceError(RuntimeError):
    pass


def available_devices() -> list[str]:
    out = ["cpu"]
    if torch.cuda.is_available():
        out.insert(0, "cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.insert(0 if "cuda" not in out else 1, "mps")
    return out


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then CPU. A named device that is missing is an error."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("device 'cuda' was asked for, but no CUDA GPU is available here "
                              f"(available: {', '.join(available_devices())})")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif dev.type == "mps" and "mps" not in available_devices():
        raise DeviceError("device 'mps' was asked for, but Apple MPS is not available here")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


@contextmanager
def single_threaded() -> Iterator[None]:
    """CPU ops on the calling thread run on one thread inside this block. OpenMP's count is per thread, so
    threads that have already used torch keep theirs (one whose first torch call falls inside the block
    starts from 1, as from any process default).

    For small interactive computations (one image, tiny matrices): each op is too short to gain from a
    second thread, and when another process holds a core the op waits for the descheduled thread at
    every barrier; on a 2-core machine with a training running, the maths page's numbers took 13-30 s
    with 2 threads and 0.4-1.1 s with one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def machine_cores() -> int:
    """The CPU cores this process may run on (its affinity, where the system says)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_threads(n: int, what: str) -> int:
    """n, or a ValueError when n exceeds the machine's cores: OpenMP with 100,000 threads crashes the process."""
    cores = machine_cores()
    if n > cores:
        raise ValueError(f"{what} is {n:,}, more than this machine's {cores} CPU cores: use at most {cores}")
    return n
