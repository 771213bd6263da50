"""Stop while a training loads a large folder of pictures: the load checks the stop signal between files, so the
training slot comes back at once instead of after the whole folder (issue 25, item 7)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.data import folder
from explorer.jobs import JobSpec, TrainingJob, TrainingSlots
from explorer.train.trainer import TrainConfig

N = 2000  # small pictures; each takes at least 2 ms to read below, so the whole folder takes 4 s or more


def test_stop_interrupts_loading_a_folder_of_many_pictures(tmp_path: Path, monkeypatch) -> None:
    pic = Image.fromarray(np.full((8, 8), 128, np.uint8))
    for i in range(N):
        pic.save(tmp_path / f"{i:05d}.png")
    read = folder.prepare
    monkeypatch.setattr(folder, "prepare", lambda *a: (time.sleep(0.002), read(*a))[1])
    slots = TrainingSlots(1)
    spec = JobSpec("folder", data_dir=str(tmp_path), model=dict(hidden=(8,), latent_dim=2), threads=1,
                   train=TrainConfig(epochs=1, batch_size=64))
    job = TrainingJob(spec, slots).start()
    deadline = time.monotonic() + 30
    while job.status != "loading" and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # well into the folder
    stopped_at = time.monotonic()
    job.stop()
    assert job.join(30)
    took = time.monotonic() - stopped_at
    assert job.status == "stopped" and "loading" in job.snapshot().message, job.snapshot().message
    assert took < 1.5, f"{took:.1f} s after Stop"  # not the rest of the folder
    assert slots.running == 0 and job.trainer is None  # the slot is free again
