"""The trainer: callbacks, bit-for-bit reproducibility, stop and exact resume, divergence, binarization."""
from __future__ import annotations

import copy
import math
import threading
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

import explorer.train.terms as terms_mod  # the objective a step and an evaluation call
from explorer import (DeviceError, ImageDataset, ModelConfig, TrainConfig, Trainer, TrainingDiverged, build_model,
                      load_checkpoint, load_dataset, save_model)
from tests.reference_models import binarize
from explorer.data.pixels import BatchTransform, TEST_SEED as TEST_BINARIZE_SEED, resolve_pixels
from explorer.train.distributed import epoch_order
from explorer.train.run_record import summary

STEP_KEYS = {"step", "epoch", "recon", "kl", "bound", "beta", "kl_per_dim", "samples_per_sec"}
EPOCH_KEYS = {"epoch", "step", "beta", "train_recon", "train_kl", "train_bound", "bound_name", "test_elbo", "test_recon", "test_kl",
              "kl_per_dim", "wall_time", "samples_per_sec"}
TIMING = ("wall_time", "samples_per_sec")
D = 2


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small(digits: ImageDataset) -> ImageDataset:
    """160 training images (4 batches of 40), 50 test images."""
    return ImageDataset("digits", digits.train_x[:160], None, digits.test_x[:50], None)


def new_model(seed: int = 0, **kw):
    torch.manual_seed(seed)
    cfg = dict(image_shape=(1, 8, 8), latent_dim=D, hidden=(32,))
    cfg.update(kw)
    mc = ModelConfig(**cfg)
    return build_model(mc, pixels=resolve_pixels("auto", mc.likelihood), levels=17)  # digits' grey levels


def new_trainer(data: ImageDataset, model_kw: dict | None = None, **train_kw) -> Trainer:
    cfg = dict(epochs=2, batch_size=40, lr=3e-3, device="cpu", eval_batch_size=32)
    cfg.update(train_kw)
    model = new_model(**(model_kw or {}))
    return Trainer(model, data, TrainConfig(**cfg), BatchTransform.for_model(model))


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def without_timing(history: dict) -> dict:
    h = copy.deepcopy(history)
    for e in h["epochs"]:
        for k in TIMING:
            e.pop(k)
    h["state"].pop("wall_time")
    return h


# -- callbacks ---------------------------------------------------------------------------------------
def test_callbacks_fire_per_step_and_epoch_with_the_documented_keys(small: ImageDataset) -> None:
    t = new_trainer(small, beta=1.0, warmup_epochs=1.0)
    steps, epochs, ends = [], [], []
    t.add_callback("step", steps.append).add_callback("epoch", epochs.append).add_callback("end", ends.append)
    assert t.fit() is t and t.status == "finished"

    assert len(steps) == 8 and len(epochs) == 2 and len(ends) == 1
    for i, r in enumerate(steps):
        assert STEP_KEYS <= set(r), STEP_KEYS - set(r)
        assert r["step"] == i + 1
        assert r["epoch"] == pytest.approx(i / 4)  # where the step began (the app adds one step's worth)
        assert len(r["kl_per_dim"]) == D and sum(r["kl_per_dim"]) == pytest.approx(r["kl"], rel=1e-5)
        assert r["bound"] == pytest.approx(r["recon"] - r["kl"], rel=1e-5)
        assert r["samples_per_sec"] > 0
    # linear warm-up over one epoch (4 steps): beta = step / 4 before each step, then 1
    assert [r["beta"] for r in steps] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    for i, r in enumerate(epochs):
        assert EPOCH_KEYS <= set(r), EPOCH_KEYS - set(r)
        assert r["epoch"] == i + 1 and r["step"] == 4 * (i + 1)
        assert math.isfinite(r["test_elbo"]) and r["test_elbo"] == pytest.approx(r["test_recon"] - r["test_kl"])
        assert len(r["kl_per_dim"]) == D and r["samples_per_sec"] > 0
        mean_train = sum(s["bound"] * 40 for s in steps[4 * i:4 * i + 4]) / 160
        assert r["train_bound"] == pytest.approx(mean_train, rel=1e-6) and r["bound_name"] == "ELBO"
    assert ends[0] == {"status": "finished", "message": "finished 2 epochs", "epoch": 2, "step": 8, "batch": 0,
                       "wall_time": t.state["wall_time"]}
    assert t.history["epochs"] == epochs
    assert [p["step"] for p in t.history["steps"]] == list(range(1, 9))
    assert summary(t)["final"] == epochs[-1]
    assert not t.model.training


@pytest.mark.parametrize("kind", ["ae", "dae"])
@pytest.mark.parametrize("train_kw", [dict(iwae_k=5), dict(samples=2)], ids=["iwae", "samples"])
def test_an_autoencoder_refuses_sampling_options(small: ImageDataset, kind: str, train_kw: dict) -> None:
    with pytest.raises(ValueError, match=f"apply to a VAE only: the {kind.upper()} has no latent distribution"):
        new_trainer(small, dict(kind=kind), **train_kw)


def test_an_iwae_run_keeps_its_bound_apart_from_the_elbo(small: ImageDataset) -> None:
    """With k > 1 the train number is the IWAE bound: its own key and name, never "elbo" (test_elbo is the ELBO)."""
    epochs = []
    t = new_trainer(small, iwae_k=3, epochs=1).add_callback("epoch", epochs.append).fit()
    assert epochs[0]["bound_name"] == "IWAE bound (k = 3)" and math.isfinite(epochs[0]["train_bound"])
    assert "train_elbo" not in epochs[0] and all("bound" in p and "elbo" not in p for p in t.history["steps"])


def test_unknown_event_is_refused(small: ImageDataset) -> None:
    with pytest.raises(ValueError, match="unknown event"):
        new_trainer(small).add_callback("batch", print)


# -- reproducibility ---------------------------------------------------------------------------------
@pytest.mark.parametrize("model_kw, train_kw", [
    (dict(), dict()),
    (dict(kind="dae", likelihood="gaussian"), dict()),
    (dict(likelihood="gaussian"), dict(estimator="mc", samples=2)),
], ids=["vae-bernoulli", "dae-gaussian", "vae-gaussian-mc"])
def test_same_seed_same_weights_bit_for_bit(small: ImageDataset, model_kw: dict, train_kw: dict) -> None:
    a = new_trainer(small, model_kw, **train_kw).fit()
    torch.rand(7)  # the global RNG is not what the trainer draws from
    b = new_trainer(small, model_kw, **train_kw).fit()
    assert_same_weights(weights(a.model), weights(b.model))
    assert without_timing(a.history) == without_timing(b.history)
    c = new_trainer(small, model_kw, **{**train_kw, "seed": 1}).fit()
    assert not torch.equal(weights(a.model)["encoder.net.1.weight"], weights(c.model)["encoder.net.1.weight"])


def test_training_leaves_the_global_rng_alone(small: ImageDataset) -> None:
    t = new_trainer(small, epochs=1)
    before = torch.get_rng_state()
    t.fit()
    assert torch.equal(torch.get_rng_state(), before)


def test_evaluate_is_deterministic(small: ImageDataset) -> None:
    t = new_trainer(small)
    x = binarize(small.test_x, seed=0)
    assert t.evaluate(x) == t.evaluate(x)
    assert t.evaluate(x, seed=1)["elbo"] != t.evaluate(x)["elbo"]


# -- stop and resume ---------------------------------------------------------------------------------
RESUME_CASES = {
    "vae-bernoulli": (dict(), dict()),
    "dae-gaussian": (dict(kind="dae", likelihood="gaussian_learned"), dict()),
    "vae-gaussian-mc": (dict(likelihood="gaussian_learned"), dict(estimator="mc", samples=2)),
    "iwae-warmup": (dict(), dict(iwae_k=3, warmup_epochs=1.5, beta=0.5)),
}


def save_for_resume(t: Trainer, path: Path) -> Path:
    return save_model(t.model, path, optimizer=t.optimizer, history=t.history, train_config=asdict(t.config))


def resume(path: Path, data: ImageDataset) -> Trainer:
    ckpt = load_checkpoint(path)
    model = ckpt.model
    return Trainer(model, data, TrainConfig.from_dict(model.metadata["train_config"]), BatchTransform.for_model(model),
                   optimizer_state=ckpt.optimizer_state, history=model.metadata["history"])


@pytest.mark.parametrize("stop_after", [6, 4], ids=["mid-epoch", "epoch-end"])
@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_stop_from_another_thread_then_resume_gives_the_same_weights(
        small: ImageDataset, tmp_path: Path, case: str, stop_after: int) -> None:
    model_kw, train_kw = RESUME_CASES[case]
    full = new_trainer(small, model_kw, **train_kw).fit()

    t = new_trainer(small, model_kw, **train_kw)
    reached, stopped = threading.Event(), threading.Event()

    def on_step(r: dict) -> None:
        if r["step"] == stop_after:
            reached.set()
            assert stopped.wait(10)  # hold this step until the other thread has asked to stop

    def stopper() -> None:
        assert reached.wait(30)
        t.stop()
        stopped.set()

    t.add_callback("step", on_step)
    th = threading.Thread(target=stopper)
    th.start()
    t.fit()
    th.join()
    assert t.status == "stopped" and t.message == f"stopped at step {stop_after}"
    assert t.state["step"] == stop_after
    assert t.state["epoch"] * 4 + t.state["batch"] == stop_after  # its place in the epoch

    r = resume(save_for_resume(t, tmp_path / "m.safetensors"), small)
    assert r.state["step"] == stop_after
    r.fit()
    assert r.status == "finished" and r.state["step"] == 8
    assert_same_weights(weights(full.model), weights(r.model))
    assert without_timing(r.history) == without_timing(full.history)


def test_a_checkpoint_written_from_a_step_callback_resumes_exactly(small: ImageDataset, tmp_path: Path) -> None:
    """Saved after an epoch's last step but before its test evaluation: the resume must finish the epoch."""
    full = new_trainer(small, warmup_epochs=1).fit()
    t = new_trainer(small, warmup_epochs=1)
    path = tmp_path / "m.safetensors"
    t.add_callback("step", lambda rec: rec["step"] == 4 and save_for_resume(t, path))
    t.fit()
    r = resume(path, small)
    assert (r.state["epoch"], r.state["batch"]) == (0, 4)
    epochs = []
    r.add_callback("epoch", epochs.append)
    r.fit()
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert_same_weights(weights(full.model), weights(r.model))
    assert without_timing(r.history) == without_timing(full.history)


def test_stop_before_fit_is_not_carried_into_it(small: ImageDataset) -> None:
    t = new_trainer(small, epochs=1)
    t.stop()  # aimed at no run: fit() starts afresh (a job may stop() a trainer that is not running)
    assert t.fit().status == "finished"


def test_fit_continues_to_a_larger_epoch_count(small: ImageDataset) -> None:
    full = new_trainer(small, epochs=3).fit()
    t = new_trainer(small, epochs=1).fit()
    t.config.epochs = 3
    t.fit()
    assert_same_weights(weights(full.model), weights(t.model))


# -- divergence --------------------------------------------------------------------------------------
def record_weights(t: Trainer) -> list[dict]:
    snaps = [weights(t.model)]
    t.add_callback("step", lambda r: snaps.append(weights(t.model)))
    return snaps


def test_nan_loss_never_reaches_the_weights(small: ImageDataset, monkeypatch) -> None:
    real = terms_mod.objective
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(terms_mod, "objective", poisoned)
    t = new_trainer(small)
    snaps = record_weights(t)
    ends = []
    t.add_callback("end", ends.append)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 3 \(epoch 1\).*lower learning rate"):
        t.fit()
    assert len(snaps) == 3  # initial + 2 good steps
    assert_same_weights(snaps[-1], weights(t.model))
    assert t.status == "diverged" and ends[-1]["status"] == "diverged" and t.state["step"] == 2
    assert all(p.grad is None for p in t.model.parameters())


def test_huge_learning_rate_diverges_cleanly(digits: ImageDataset) -> None:
    t = new_trainer(digits, lr=1e10, epochs=3)
    snaps = record_weights(t)
    with pytest.raises(TrainingDiverged, match="became non-finite|became (nan|inf)"):
        t.fit()
    assert_same_weights(snaps[-1], weights(t.model))
    assert all(torch.isfinite(v).all() for v in weights(t.model).values())


def test_nan_gradients_never_reach_the_weights(small: ImageDataset, monkeypatch) -> None:
    real = terms_mod.objective

    def nan_grad(model, *args, **kwargs):
        out = real(model, *args, **kwargs)
        w = next(model.parameters())
        out.loss = out.loss + torch.sqrt((w * 0).sum())  # value unchanged; d sqrt(u)/du at 0 = inf, times 0 = nan
        return out

    monkeypatch.setattr(terms_mod, "objective", nan_grad)
    t = new_trainer(small)
    before = weights(t.model)
    opt_before = copy.deepcopy(t.optimizer.state_dict())
    with pytest.raises(TrainingDiverged, match="gradients became non-finite at step 1"):
        t.fit()
    assert_same_weights(before, weights(t.model))
    assert t.optimizer.state_dict()["state"] == opt_before["state"] == {}  # Adam never stepped


def test_an_overflowing_step_is_undone(small: ImageDataset, monkeypatch) -> None:
    t = new_trainer(small)
    snaps = record_weights(t)
    real_step = t.optimizer.step
    count = {"n": 0}

    def overflow(*a, **k):
        real_step(*a, **k)
        count["n"] += 1
        if count["n"] == 2:
            with torch.no_grad():
                next(t.model.parameters())[0, 0] = float("inf")

    monkeypatch.setattr(t.optimizer, "step", overflow)
    with pytest.raises(TrainingDiverged, match="weights became non-finite at step 2"):
        t.fit()
    assert_same_weights(snaps[-1], weights(t.model))


def test_the_guarded_weights_live_in_one_buffer(small: ImageDataset) -> None:
    """The guard copies and checks the weights as one flat buffer; views of it train and save as before."""
    t = new_trainer(small, epochs=1).fit()
    params = list(t.model.parameters())
    assert len({p.untyped_storage().data_ptr() for p in params}) == 1
    assert all(p.is_contiguous() and p.data_ptr() % 64 == 0 for p in params)  # aligned as their own allocations


def test_an_overflow_is_undone_after_the_weights_moved(small: ImageDataset, monkeypatch) -> None:
    """Weights given new storage between fits (as model.to() would) are put back into one buffer: the
    guard still restores every weight, not a stale copy."""
    t = new_trainer(small, epochs=1).fit()
    with torch.no_grad():
        for p in t.model.parameters():
            p.data = p.data.clone() + 0.01  # new storage and new values
    t.config.epochs = 2
    snaps = record_weights(t)
    real_step, count = t.optimizer.step, {"n": 0}

    def overflow(*a, **k):
        real_step(*a, **k)
        count["n"] += 1
        if count["n"] == 2:
            with torch.no_grad():
                list(t.model.parameters())[-1][0] = float("inf")

    monkeypatch.setattr(t.optimizer, "step", overflow)
    with pytest.raises(TrainingDiverged, match="weights became non-finite at step 6"):
        t.fit()
    assert len(snaps) == 2  # the weights as moved, then one good step
    assert_same_weights(snaps[-1], weights(t.model))
    assert len({p.untyped_storage().data_ptr() for p in t.model.parameters()}) == 1


# -- devices -----------------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_a_clear_error(small: ImageDataset) -> None:
    with pytest.raises(DeviceError, match="'cuda' was asked for, but no CUDA GPU is available"):
        new_trainer(small, device="cuda")
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        new_trainer(small, device="gpu")


# -- binarization ------------------------------------------------------------------------------------
def capture(monkeypatch) -> tuple[list, list]:
    """(training targets per step, test sets per evaluation) as the trainer sees them."""
    targets, tests = [], []
    real_obj, real_eval = terms_mod.objective, Trainer.evaluate

    def obj(model, x, target=None, **kw):
        targets.append((x if target is None else target).clone())
        return real_obj(model, x, target, **kw)

    def ev(self, x, seed=0):
        tests.append(x.clone())
        return real_eval(self, x, seed)

    monkeypatch.setattr(terms_mod, "objective", obj)
    monkeypatch.setattr(Trainer, "evaluate", ev)
    return targets, tests


def test_dynamic_binarization_draws_fresh_pixels_each_epoch(small: ImageDataset, monkeypatch) -> None:
    targets, tests = capture(monkeypatch)
    new_trainer(small, batch_size=160, epochs=3).fit()  # one batch per epoch
    train = [x for x in targets if len(x) == 160]  # evaluation calls objective too, in batches of 32
    assert len(train) == 3
    assert len(tests) == 3
    perms = [epoch_order(160, 0, e) for e in range(3)]  # the trainer's order of each epoch
    grey = [small.train_x[p] for p in perms]
    for x, g in zip(train, grey):
        assert set(x.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(x[g == 0], torch.zeros_like(x[g == 0]))  # p = 0 never gives a 1
        assert torch.equal(x[g == 1], torch.ones_like(x[g == 1]))
    # the same images, drawn again: compare in a fixed order
    inv = [torch.argsort(p) for p in perms]
    a, b = train[0][inv[0]], train[1][inv[1]]
    assert (a != b).float().mean() > 0.05
    assert (torch.cat(train).mean() - small.train_x.mean()).abs() < 0.02  # E[x_bin] = grey level
    # the test set: binarized once with a fixed seed, whatever the training seed
    fixed = binarize(small.test_x, seed=TEST_BINARIZE_SEED)
    assert all(torch.equal(x, fixed) for x in tests)
    tests.clear()
    new_trainer(small, batch_size=160, epochs=1, seed=7).fit()
    assert torch.equal(tests[0], fixed)


def test_gaussian_decoder_trains_on_dequantized_pixels(small: ImageDataset, monkeypatch) -> None:
    targets, tests = capture(monkeypatch)
    t = new_trainer(small, dict(likelihood="gaussian"), batch_size=160, epochs=1)
    assert t.transform.pixels == "dequantized"
    t.fit()
    perm = epoch_order(160, 0, 0)
    x, y = small.train_x[perm], [x for x in targets if len(x) == 160][0]
    k = torch.round(x * 16)  # digits have 17 levels: each y lies in its level's cell [k / 17, (k + 1) / 17)
    assert bool(((y >= k / 17) & (y < (k + 1) / 17)).all()) and not torch.equal(y, x)
    fixed = tests[0]  # the test set's noise is drawn once, with the fixed seed
    kt = torch.round(small.test_x * 16)
    assert bool(((fixed >= kt / 17) & (fixed < (kt + 1) / 17)).all())
    gen = torch.Generator().manual_seed(TEST_BINARIZE_SEED)
    assert torch.equal(fixed, (kt + torch.rand(kt.shape, generator=gen)) / 17)


def test_grey_pixels_train_on_grey_levels(small: ImageDataset, monkeypatch) -> None:
    targets, tests = capture(monkeypatch)
    model = new_model(likelihood="gaussian")
    model.pixels = "grey"
    t = Trainer(model, small, TrainConfig(epochs=1, batch_size=160, device="cpu"), BatchTransform.for_model(model))
    t.fit()
    perm = epoch_order(160, 0, 0)
    assert torch.equal([x for x in targets if len(x) == 160][0], small.train_x[perm])
    assert torch.equal(tests[0], small.test_x)


# -- it learns ---------------------------------------------------------------------------------------
def test_loss_decreases_on_digits(digits: ImageDataset) -> None:
    model = new_model(hidden=(64,))
    t = Trainer(model, digits, TrainConfig(epochs=4, batch_size=64, lr=3e-3, device="cpu"), BatchTransform.for_model(model))
    start = t.evaluate(binarize(digits.test_x, seed=TEST_BINARIZE_SEED))["elbo"]
    epochs = []
    t.add_callback("epoch", epochs.append)
    t.fit()
    test = [e["test_elbo"] for e in epochs]
    assert test[0] > start + 2
    assert test[-1] > test[0] + 1, test
    assert epochs[-1]["train_bound"] > epochs[0]["train_bound"]
