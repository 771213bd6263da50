"""Training jobs: background thread, snapshots, stop / resume, the server-wide limit, errors, saving."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from explorer import load_checkpoint, load_model
from explorer.cli import evaluate as evaluate_cli  # its test_images would be collected as a test
from explorer.model.config import ModelConfig
from explorer.store.checkpoint import load_checkpoint_bytes
from tests.reference_models import binarize
from explorer.data import load_training_data
from explorer.data.pixels import TEST_SEED as TEST_BINARIZE_SEED
from explorer.data.ref import DatasetRef
from explorer.jobs import JobSpec, TrainingJob, TrainingSlots, max_trainings_from_env, threads_per_training, wait_reason
from explorer.model.latent_model import build_model
from explorer.train.trainer import TrainConfig

SMALL = dict(hidden=(32,), latent_dim=2)
DIGITS_TRAIN = 1438  # 80% of scikit-learn's 1,797 digits


def spec(epochs: int = 2, batch_size: int = 128, **train) -> JobSpec:
    return JobSpec("digits", model=dict(SMALL), train=TrainConfig(epochs=epochs, batch_size=batch_size, **train),
                   threads=1)


def wait_for(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.fixture
def slots() -> TrainingSlots:
    return TrainingSlots(2)


def test_job_trains_on_a_background_thread_and_records(slots: TrainingSlots) -> None:
    seen_threads: list[str] = []
    job = TrainingJob(spec(epochs=2), slots)
    job.start()
    assert job.status in ("queued", "loading", "running")  # start() returned before training finished
    wait_for(lambda: job.trainer is not None)
    job.trainer.add_callback("step", lambda r: seen_threads.append(threading.current_thread().name))
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "finished", snap.message
    batches = -(-DIGITS_TRAIN // 128)
    assert len(snap.steps["step"]) == 2 * batches  # short run: one point per step, none binned
    assert snap.steps["step"] == sorted(snap.steps["step"])
    assert [e["epoch"] for e in snap.epochs] == [1, 2]
    assert all(e["test_elbo"] < 0 for e in snap.epochs)
    assert len(snap.kl_per_dim) == 2
    assert snap.latent_map is not None and snap.latent_map.epoch == 2
    assert len(snap.latent_map.x) == len(snap.latent_map.labels) == len(job.data.test_x)
    assert snap.epoch == 2.0 and snap.samples_per_sec > 0
    assert seen_threads and "MainThread" not in seen_threads


def test_snapshot_is_a_copy(slots: TrainingSlots) -> None:
    job = TrainingJob(spec(epochs=1), slots).start()
    job.join(60)
    snap = job.snapshot()
    snap.steps["bound"].clear()
    snap.epochs[0]["test_elbo"] = 123.0
    again = job.snapshot()
    assert again.steps["bound"] and again.epochs[0]["test_elbo"] != 123.0


def test_stop_and_resume_continue_the_same_run(slots: TrainingSlots) -> None:
    job = TrainingJob(spec(epochs=500, batch_size=64), slots).start()
    wait_for(lambda: len(job.snapshot().steps["step"]) >= 5)
    job.stop()
    assert job.join(30)
    stopped = job.snapshot()
    assert stopped.status == "stopped"
    done = job.trainer.state["step"]
    assert 5 <= done < 500 * 23
    job.resume(epochs=int(stopped.epoch) + 2)
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "finished", snap.message
    assert snap.run == 2
    assert len(snap.epochs) == int(stopped.epoch) + 2
    steps = snap.steps["step"]
    assert steps == sorted(steps) and steps[-1] == job.trainer.state["step"] > done  # continued, not restarted
    with pytest.raises(ValueError):
        job.resume(epochs=1)  # fewer than already done


def test_stop_while_queued_leaves_the_queue() -> None:
    one = TrainingSlots(1)
    running = TrainingJob(spec(epochs=500), one).start()
    waiting = TrainingJob(spec(epochs=1), one).start()
    wait_for(lambda: running.status == "running")
    wait_for(lambda: waiting.snapshot().status == "queued")
    waiting.stop()
    assert waiting.join(10)
    assert waiting.status == "stopped" and one.position(waiting.id) is None
    running.stop()
    assert running.join(30)


def test_the_limit_queues_the_third_job_and_says_why(slots: TrainingSlots) -> None:
    jobs = [TrainingJob(spec(epochs=500), slots).start() for _ in range(2)]
    wait_for(lambda: all(j.status == "running" for j in jobs))
    third = TrainingJob(spec(epochs=1), slots).start()
    wait_for(lambda: slots.position(third.id) == 1)
    snap = third.snapshot()
    assert snap.status == "queued" and snap.active
    assert "2 trainings are running on this server" in snap.message
    assert "yours starts when one finishes" in snap.message and "number 1 in the queue" in snap.message
    time.sleep(0.3)
    assert third.status == "queued"  # still waiting while both slots are taken
    jobs[0].stop()
    assert third.join(60)  # the freed slot went to the third job, which then trained
    assert third.status == "finished"
    jobs[1].stop()
    assert jobs[1].join(30) and jobs[0].join(30)
    assert slots.running == 0


def test_diverging_job_reports_its_error(slots: TrainingSlots) -> None:
    job = TrainingJob(JobSpec("digits", model=dict(SMALL, likelihood="gaussian_learned"),
                              train=TrainConfig(epochs=3, batch_size=64, lr=100.0), threads=1), slots).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "diverged" and not snap.active
    assert "diverged" in snap.message and "lower learning rate" in snap.message
    assert slots.running == 0  # the slot was given back


@pytest.mark.parametrize("bad, words", [
    (dict(dataset="no-such-data"), "unknown dataset"),
    (dict(device="cuda:99"), "cuda"),
])
def test_errors_in_the_worker_reach_the_snapshot(slots: TrainingSlots, bad: dict, words: str) -> None:
    s = spec(epochs=1, device=bad.get("device", "cpu"))
    s.dataset = bad.get("dataset", "digits")
    job = TrainingJob(s, slots).start()
    assert job.join(30)
    snap = job.snapshot()
    assert snap.status == "error" and words in snap.message.lower()
    with pytest.raises(RuntimeError):
        job.result_model()


def test_bad_model_options_fail_on_the_callers_thread() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        JobSpec("digits", model=dict(latent_dim=0))
    with pytest.raises(ValueError, match="kind"):
        JobSpec("digits", model=dict(kind="gan"))


def test_result_save_and_download_match_the_cli_format(slots: TrainingSlots, tmp_path) -> None:
    job = TrainingJob(spec(epochs=1), slots).start()
    assert job.join(60)
    model = job.result_model()
    assert next(model.parameters()).device == torch.device("cpu") and not model.training
    assert {"dataset", "train_config", "history", "status", "metrics"} <= set(model.metadata)
    assert model.metadata["dataset"]["name"] == "digits" and model.metadata["metrics"]["epochs"] == 1
    path = job.save(tmp_path / "m.safetensors")
    ck = load_checkpoint(path)
    loaded, opt = ck.model, ck.optimizer_state
    assert opt is not None and loaded.metadata["status"] == "finished"
    assert loaded.metadata["history"]["state"]["epoch"] == 1
    for a, b in zip(loaded.state_dict().values(), job.trainer.model.state_dict().values()):
        assert torch.equal(a, b.cpu())
    from_bytes = load_checkpoint_bytes(job.checkpoint_bytes()).model
    assert from_bytes.config == loaded.config
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # atomic write left no temp file


def test_resume_from_a_checkpoint(slots: TrainingSlots, tmp_path) -> None:
    first = TrainingJob(spec(epochs=1), slots).start()
    first.join(60)
    path = first.save(tmp_path / "m.safetensors")
    s = spec(epochs=2)
    s.resume_from = str(path)
    job = TrainingJob(s, slots).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "finished" and [e["epoch"] for e in snap.epochs] == [1, 2]
    assert load_model(path).config == job.trainer.model.config


def test_same_seed_same_model_as_the_cli(slots: TrainingSlots, tmp_path) -> None:
    from explorer.cli import main

    out = tmp_path / "cli.safetensors"
    assert main(["train", "--dataset", "digits", "--hidden", "32", "--epochs", "1", "--batch-size", "128",
                 "--seed", "3", "--quiet", "--threads", "1", "--out", str(out)]) == 0
    job = TrainingJob(spec(epochs=1, seed=3), slots).start()
    assert job.join(60)
    cli = load_model(out).metadata["metrics"]["test_elbo"]
    assert job.snapshot().epochs[-1]["test_elbo"] == pytest.approx(cli, rel=1e-4)


def test_mnist_falls_back_to_the_bundled_test_split(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached copy either
    data = load_training_data("mnist", str(tmp_path))  # an empty directory, and no download by default
    assert len(data.train_x) == 8000 and len(data.test_x) == 2000
    assert data.notes and "bundled" in data.notes[-1]
    # the checkpoint says so, and everything that reads its test set then sees only the 2,000 held out
    assert data.describe()["test_from"] == 8000
    model = build_model(ModelConfig(image_shape=data.image_shape, **SMALL))
    model.metadata = {"dataset": data.describe()}
    assert DatasetRef.of(model).split == "mnist[8000:]"
    test = DatasetRef.of(model).load_test()
    assert test.name == "mnist[8000:]" and torch.equal(test.test_x, data.test_x)
    assert torch.equal(evaluate_cli.test_images(model), binarize(data.test_x, seed=TEST_BINARIZE_SEED))  # the CLI's evaluate


def test_other_missing_data_is_an_error_not_a_download(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    job = TrainingJob(JobSpec("fashion-mnist", data_dir=str(tmp_path), model=dict(SMALL), threads=1),
                      TrainingSlots(1)).start()
    assert job.join(30)
    snap = job.snapshot()
    assert snap.status == "error" and "fashion-mnist" in snap.message.lower()


def test_limit_and_threads_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("EXPLORER_MAX_TRAININGS", raising=False)
    assert max_trainings_from_env() == 2
    monkeypatch.setenv("EXPLORER_MAX_TRAININGS", "3")
    assert max_trainings_from_env() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("EXPLORER_MAX_TRAININGS", bad)
        with pytest.raises(ValueError, match="EXPLORER_MAX_TRAININGS"):
            max_trainings_from_env()
    monkeypatch.setenv("EXPLORER_TRAIN_THREADS", "1")  # more than the cores is refused (test_hostile_settings)
    assert threads_per_training(2) == 1
    monkeypatch.delenv("EXPLORER_TRAIN_THREADS")
    assert threads_per_training(10_000) == 1
    assert wait_reason(1, 2) == ("1 training is running on this server; yours starts when one finishes "
                                 "(you are number 2 in the queue).")
