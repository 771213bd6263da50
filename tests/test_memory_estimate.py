"""The training memory estimate (issue 25, item 1) against a small case measured with torch itself, and the
budget's setting."""
from __future__ import annotations

import pytest
import torch

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.train.memory import (MB, OverBudget, check_fits, estimate_training_memory, memory_budget_mb)

CONFIG = ModelConfig(image_shape=(1, 28, 28), latent_dim=4, hidden=(64, 32))


def _measured(batch: int) -> tuple[int, int]:
    """(bytes of weights + grads + Adam's moments after one step, bytes the autograd graph saved)."""
    torch.manual_seed(0)
    model = build_model(CONFIG)
    opt = torch.optim.Adam(model.parameters())
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.rand(batch, *CONFIG.image_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        q = model.encode(x)
        loss = -(model.decode(q.rsample()).log_prob(x) - torch.distributions.kl_divergence(q, model.prior)).mean()
    loss.backward()
    opt.step()
    state = [t for s in opt.state.values() for k, t in s.items() if k != "step"]
    params = sum(t.numel() * 4 for t in [*model.parameters(), *(p.grad for p in model.parameters()), *state])
    return params, sum(saved.values())


def test_the_estimate_matches_a_measured_small_training() -> None:
    params, saved = _measured(batch=256)
    est = estimate_training_memory(CONFIG, batch_size=256)
    assert est.parameters == params  # exact: four float32 copies of every weight
    assert saved <= est.activations <= 4 * saved, (saved, est.activations)  # the graph's tensors and their grads


def test_the_estimate_grows_with_width_samples_and_data() -> None:
    small = estimate_training_memory(CONFIG, 128)
    assert estimate_training_memory(ModelConfig(image_shape=(1, 28, 28), latent_dim=4, hidden=(640, 32)), 128).total \
        > 5 * small.parameters
    assert estimate_training_memory(CONFIG, 128, samples=10).activations > small.activations
    assert estimate_training_memory(CONFIG, 128, data_bytes=MB).total == small.total + MB


def test_a_huge_width_is_estimated_without_allocating_it_and_refused() -> None:
    est = estimate_training_memory(ModelConfig(image_shape=(1, 28, 28), latent_dim=2, hidden=(16_777_216,)), 128)
    assert est.total > 100 * 2**30  # hundreds of GB, estimated on the meta device
    with pytest.raises(OverBudget, match=r"would need about [\d,]+ MB .* budget of 4,096 MB"):
        check_fits(est, 4096)
    check_fits(estimate_training_memory(CONFIG, 128), 4096)


def test_the_budget_setting(monkeypatch) -> None:
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "300")
    assert memory_budget_mb(2) == 300
    for bad in ("abc", "0"):
        monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", bad)
        with pytest.raises(ValueError, match="EXPLORER_MEMORY_BUDGET_MB"):
            memory_budget_mb(2)
    monkeypatch.delenv("EXPLORER_MEMORY_BUDGET_MB")
    assert 1 <= memory_budget_mb(4) <= memory_budget_mb(1)


def test_the_app_refuses_a_training_over_budget_before_building_it(monkeypatch) -> None:
    from explorer.jobs import JobSpec, TrainingJob, TrainingSlots, build_trainer
    from explorer.train.trainer import TrainConfig

    with pytest.raises(OverBudget, match=r"would need about [\d,]+ MB .* budget of"):
        build_trainer(JobSpec("digits", model=dict(hidden=(16_777_216,), latent_dim=2)))
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    job = TrainingJob(JobSpec("digits", model=dict(hidden=(2000,), latent_dim=2), train=TrainConfig(epochs=1),
                              threads=1), TrainingSlots(1)).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "error" and snap.message.startswith("Cannot start: this training would need"), snap.message
    assert "budget of 1 MB" in snap.message


def test_the_cli_refuses_a_run_that_does_not_fit_in_one_line(tmp_path, capsys) -> None:
    from explorer.cli import main

    code = main(["train", "--dataset", "digits", "--hidden", "16777216", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "m.safetensors")])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: this training would need") and err.count("\n") == 1, err
    assert not (tmp_path / "m.safetensors").exists()


CONV = ModelConfig(image_shape=(1, 28, 28), latent_dim=3, arch="conv", hidden=(8, 16))
ODD = ModelConfig(image_shape=(3, 13, 9), latent_dim=2, arch="conv", hidden=(4, 4), likelihood="gaussian_learned")


@pytest.mark.parametrize("config", [CONFIG, CONV, ODD])
def test_layer_outputs_count_what_a_real_forward_pass_outputs(config: ModelConfig) -> None:
    from explorer.train.memory import layer_outputs

    model, seen = build_model(config), []
    for m in model.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda _m, _i, out: seen.append(out.numel()))
    with torch.no_grad():
        model.encoder(torch.rand(1, *config.image_shape))
        assert sum(seen) == layer_outputs(model.encoder, config.image_shape)
        seen.clear()
        model.decoder(torch.rand(1, config.latent_dim))
        assert sum(seen) == layer_outputs(model.decoder, (config.latent_dim,))
