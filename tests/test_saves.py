"""Saves on a shared server: never over somebody else's file or a bundled one; over one's own only when asked;
unique default names; and abandoned trainings stopped and kept (explorer.store.saves, explorer.jobs.registry)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from explorer import load_model
from explorer.jobs import JobSpec, TrainingJob, TrainingSlots
from explorer.jobs.registry import BEAT_TIMEOUT_S, JobRegistry
from explorer.store import saves
from explorer.store.saves import SaveRefused
from explorer.train.trainer import TrainConfig


def writer(text: str):
    def write(path: Path) -> Path:
        Path(path).write_text(text)
        return Path(path)
    return write


def test_a_new_name_is_created_and_its_owner_recorded(tmp_path):
    p = saves.save_as(writer("A"), tmp_path, "mine", "alice")
    assert p == tmp_path / "mine.safetensors" and p.read_text() == "A"
    assert saves.owner_of(tmp_path, "mine.safetensors") == "alice"
    assert [q.name for q in tmp_path.iterdir() if q.name.endswith(".tmp")] == []  # no temporary left


def test_somebody_elses_file_is_never_replaced_even_when_asked(tmp_path):
    saves.save_as(writer("A"), tmp_path, "model", "alice")
    for overwrite in (False, True):
        with pytest.raises(SaveRefused, match="somebody else"):
            saves.save_as(writer("B"), tmp_path, "model", "bob", overwrite=overwrite)
    assert (tmp_path / "model.safetensors").read_text() == "A"


def test_ones_own_file_asks_first_then_is_replaced(tmp_path):
    saves.save_as(writer("A1"), tmp_path, "model", "alice")
    with pytest.raises(FileExistsError):
        saves.save_as(writer("A2"), tmp_path, "model", "alice")
    assert (tmp_path / "model.safetensors").read_text() == "A1"
    saves.save_as(writer("A2"), tmp_path, "model", "alice", overwrite=True)
    assert (tmp_path / "model.safetensors").read_text() == "A2"


def test_a_file_nobody_recorded_counts_as_somebody_elses(tmp_path):
    (tmp_path / "old.safetensors").write_text("from before")
    with pytest.raises(SaveRefused):
        saves.save_as(writer("new"), tmp_path, "old", "alice", overwrite=True)
    assert (tmp_path / "old.safetensors").read_text() == "from before"


def test_the_bundled_folder_is_never_written(tmp_path):
    bundled = tmp_path / "trained"
    bundled.mkdir()
    with pytest.raises(SaveRefused, match="bundled"):
        saves.save_as(writer("x"), bundled, "mnist_vae2", "alice", protected=(bundled,))
    assert list(bundled.iterdir()) == []


def test_names_are_plain_files_in_the_folder(tmp_path):
    assert saves.clean_name("../../etc/passwd", "m") == "etc-passwd.safetensors"
    assert saves.clean_name("  ", "fallback") == "fallback.safetensors"
    assert saves.clean_name("a.safetensors", "m") == "a.safetensors"
    p = saves.save_as(writer("x"), tmp_path, "../escape", "alice")
    assert p.parent == tmp_path


def test_default_names_are_unique_within_one_second(tmp_path):
    now = time.mktime((2026, 12, 2, 17, 5, 9, 0, 0, -1))
    first = saves.unique_name("mnist-vae-z2", tmp_path, now)
    assert first == "mnist-vae-z2-20261202-170509.safetensors"
    (tmp_path / first).write_text("x")
    second = saves.unique_name("mnist-vae-z2", tmp_path, now)
    assert second == "mnist-vae-z2-20261202-170509-2.safetensors"


def test_two_saves_racing_for_one_name_keep_exactly_one(tmp_path):
    """Eight sessions saving the same new name at once: one file, one writer's bytes, the rest refused."""
    barrier, outcomes = threading.Barrier(8), []

    def save(i: int) -> None:
        def write(path: Path) -> Path:
            Path(path).write_text(f"student {i}")
            barrier.wait()  # all temporaries written before anyone claims the name
            return Path(path)
        try:
            saves.save_as(write, tmp_path, "same", f"student{i}")
            outcomes.append(("saved", i))
        except SaveRefused:
            outcomes.append(("refused", i))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for what, i in outcomes if what == "saved"]
    assert len(winners) == 1 and len(outcomes) == 8
    assert (tmp_path / "same.safetensors").read_text() == f"student {winners[0]}"
    assert saves.owner_of(tmp_path, "same.safetensors") == f"student{winners[0]}"


def test_a_stale_temporary_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".x.safetensors.abc.tmp"
    stale.write_text("half a file")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = tmp_path / ".y.safetensors.def.tmp"  # another save in progress right now: left alone
    fresh.write_text("being written")
    saves.save_as(writer("x"), tmp_path, "z", "alice")
    assert not stale.exists() and fresh.exists()


# -- the registry of trainings by browser ------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def small_job(epochs: int) -> TrainingJob:
    spec = JobSpec("digits", model=dict(hidden=(32,), latent_dim=2), threads=1,
                   train=TrainConfig(epochs=epochs, batch_size=64))
    return TrainingJob(spec, TrainingSlots(1))


def test_a_reload_finds_the_job_and_a_gone_browser_keeps_it_through_the_grace(tmp_path):
    connected, kept, clock = {"s1"}, [], Clock()

    def keep(token: str, job: TrainingJob) -> Path:
        path = tmp_path / f"{token}.safetensors"
        kept.append(job.save(path))
        return path

    reg = JobRegistry(lambda s: s in connected, keep, grace_s=600, clock=clock)
    job = small_job(epochs=1000).start()
    try:
        reg.register("tok", job, "s1")
        assert reg.attach("other", "s9") is None
        connected.discard("s1")  # the page reloads: s1 is gone, s2 is the same browser
        assert reg.attach("tok", "s2") is job
        connected.add("s2")
        clock.t = 10_000
        assert reg.reap() == [] and job.status in ("queued", "loading", "running")
        connected.clear()  # the browser is closed
        assert reg.reap() == []  # the grace starts now
        clock.t += 599
        assert reg.reap() == [] and job.status in ("loading", "running")
        clock.t += 1
        assert reg.reap() == [job]
    finally:
        job.stop()
        job.join(60)
    assert job.status == "stopped" and reg.jobs() == [] and reg.attach("tok", "s3") is None
    assert kept == [tmp_path / "tok.safetensors"]
    assert load_model(kept[0]).metadata["status"] == "stopped"  # its last state, loadable
    assert reg.kept == [(job.id, tmp_path / "tok.safetensors")]


def test_the_slot_of_a_reaped_job_goes_to_the_next_in_the_queue(tmp_path):
    slots, clock = TrainingSlots(1), Clock()
    reg = JobRegistry(lambda s: False, lambda token, job: None, grace_s=5, clock=clock)
    first = TrainingJob(small_job(1000).spec, slots).start()
    second = TrainingJob(small_job(1).spec, slots).start()
    try:
        reg.register("gone", first, "s1")
        deadline = time.monotonic() + 60
        while first.status != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert second.status == "queued"
        clock.t = BEAT_TIMEOUT_S  # the page that started it sent its last beat then
        reg.reap()
        clock.t += 5
        assert reg.reap() == [first]
        assert second.join(120) and second.status == "finished"
    finally:
        first.stop()
        second.stop()


def test_a_page_that_beats_keeps_its_training_though_no_session_is_connected(tmp_path):
    """The server can count a student's session gone (a dropped websocket, a reconnect under another session id)
    while the page is open: its heartbeat keeps the training, and only when the beats stop does the grace start."""
    clock = Clock()
    reg = JobRegistry(lambda s: False, lambda token, job: None, grace_s=30, clock=clock)
    job = small_job(epochs=1000).start()
    try:
        reg.register("tok", job, "s1")
        for _ in range(100):  # 2,000 s with no connected session, a beat every 20 s
            clock.t += 20
            assert reg.beat("tok") and reg.reap() == []
        assert job.status in ("queued", "loading", "running")
        clock.t += BEAT_TIMEOUT_S  # the page is closed: no beat since
        assert reg.reap() == []  # the grace starts now
        clock.t += 29
        assert reg.reap() == []
        clock.t += 1
        assert reg.reap() == [job]
    finally:
        job.stop()
        job.join(60)
    assert not reg.beat("tok"), "a browser with no job here has nothing to keep"


def test_a_beat_that_comes_back_within_the_grace_keeps_the_training():
    clock = Clock()
    reg = JobRegistry(lambda s: False, lambda token, job: None, grace_s=30, clock=clock)
    job = small_job(epochs=1000).start()
    try:
        reg.register("tok", job, "s1")
        clock.t = BEAT_TIMEOUT_S
        assert reg.reap() == []  # not seen: the grace starts
        clock.t += 29
        assert reg.beat("tok")  # the page is back (a laptop opened again)
        clock.t += 60
        assert reg.reap() == [] and job.status in ("queued", "loading", "running")
    finally:
        job.stop()
        job.join(60)


def test_a_negative_grace_is_refused():
    with pytest.raises(ValueError, match="grace"):
        JobRegistry(lambda s: True, lambda t, j: None, grace_s=-1)
