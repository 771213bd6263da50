"""Admission of trainings: a class shares one server, so at most EXPLORER_MAX_TRAININGS (default 2) jobs
train at once; the rest wait in FIFO order and can say why and where they are."""
from __future__ import annotations

import os
import threading

from ..model.config import ModelConfig
from ..model.devices import check_threads, machine_cores
from ..train.config import TrainConfig
from ..train.memory import check_run, memory_budget_mb

DEFAULT_MAX_TRAININGS = 2


class TrainingSlots:
    """At most `limit` trainings at once in this process; the others wait in FIFO order."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self._cond = threading.Condition()
        self._running: set[int] = set()
        self._queue: list[int] = []

    def acquire(self, key: int, cancel: threading.Event) -> bool:
        """Block until `key` may train (True) or `cancel` is set while it waits (False)."""
        with self._cond:
            self._queue.append(key)
            while not (self._queue[0] == key and len(self._running) < self.limit):
                if cancel.is_set():
                    self._queue.remove(key)
                    self._cond.notify_all()
                    return False
                self._cond.wait(timeout=0.2)  # short, so a cancel is noticed without a notify
            self._queue.pop(0)
            self._running.add(key)
            self._cond.notify_all()
            return True

    def release(self, key: int) -> None:
        with self._cond:
            self._running.discard(key)
            self._cond.notify_all()

    def position(self, key: int) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._cond:
            return self._queue.index(key) + 1 if key in self._queue else None

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)


def max_trainings_from_env() -> int:
    n = _positive_int_env("EXPLORER_MAX_TRAININGS")
    return DEFAULT_MAX_TRAININGS if n is None else n


def _positive_int_env(name: str) -> int | None:
    """The whole number >= 1 in environment variable `name`, None when unset; a ValueError naming it otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {n}")
    return n


def threads_per_training(limit: int) -> int:
    """CPU threads for one training: EXPLORER_TRAIN_THREADS, else the cores shared by `limit` trainings.

    More OpenMP threads than free cores makes CPU training many times slower (threads spin waiting
    for each other), so concurrent trainings split the cores instead of each taking all of them.
    """
    n = _positive_int_env("EXPLORER_TRAIN_THREADS")
    if n is not None:
        return check_threads(n, "EXPLORER_TRAIN_THREADS")
    return max(1, machine_cores() // limit)


def check_training_memory(model: ModelConfig, train: TrainConfig, data_bytes: int) -> None:
    """An OverBudget error (estimate and budget in its message) for a training this server cannot hold:
    the budget is EXPLORER_MEMORY_BUDGET_MB, else half the machine's memory over EXPLORER_MAX_TRAININGS."""
    check_run(model, train, data_bytes, memory_budget_mb(max_trainings_from_env()))


_SLOTS: TrainingSlots | None = None
_SLOTS_LOCK = threading.Lock()


def server_slots() -> TrainingSlots:
    """The one TrainingSlots of this process (created on first use from EXPLORER_MAX_TRAININGS)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = TrainingSlots(max_trainings_from_env())
        return _SLOTS


def wait_reason(running: int, position: int) -> str:
    """The sentence a waiting user reads."""
    runs = f"{running} training is" if running == 1 else f"{running} trainings are"
    return (f"{runs} running on this server; yours starts when one finishes "
            f"(you are number {position} in the queue).")
