"""Finite but absurd weights (issue 25, item 2): a model whose numbers cannot be used is refused at load, by
what a probe batch and the prior's draws give, in one line; `evaluate` exits non-zero on a non-finite score."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import explorer
from explorer.cli import main
from explorer.store.checkpoint import CheckpointError, load_checkpoint, load_checkpoint_bytes
from hostile_files import absurd, good_bytes


def test_weights_of_1e38_are_refused_at_load_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_bytes(absurd(good_bytes(tmp_path)), name="upload")
    msg = str(e.value)
    assert msg.startswith("upload: ") and "not finite" in msg and "q(z|x)" in msg and "\n" not in msg


def test_a_decoder_that_overflows_only_on_prior_draws_is_refused(tmp_path: Path) -> None:
    model = load_checkpoint_bytes(good_bytes(tmp_path)).model
    with torch.no_grad():
        model.decoder.net[-1].weight.fill_(1e38)
    path = explorer.save_model(model, tmp_path / "dec.safetensors", dataset=model.metadata["dataset"])
    with pytest.raises(CheckpointError, match=r"p\(x\|z\)'s logits .* not finite"):
        load_checkpoint(path)


def test_the_good_file_still_loads(tmp_path: Path) -> None:
    assert load_checkpoint_bytes(good_bytes(tmp_path)).model is not None


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
        self.dec = nn.Linear(2, 64)

    def encode(self, x):
        return self.enc(x).chunk(2, dim=-1)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


def test_an_imported_vaex_model_with_absurd_weights_is_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = _Tiny()
    good = explorer.from_torch(net, image_shape=(1, 8, 8), encoder_output="mean_logvar",
                               likelihood="bernoulli_logits")
    explorer.save_model(good, tmp_path / "good.vaex")
    assert load_checkpoint(tmp_path / "good.vaex").model.latent_dim == 2
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1e38)
    explorer.save_model(good, tmp_path / "bad.vaex")  # exported from the module as it now is
    with pytest.raises(CheckpointError, match="not finite"):
        load_checkpoint(tmp_path / "bad.vaex")


def test_evaluate_exits_non_zero_on_a_non_finite_score(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "good.safetensors"
    path.write_bytes(good_bytes(tmp_path))

    def nan_scores(model, x, k, **kw):
        from explorer.evaluation import evaluate
        res = evaluate(model, x, k, **kw)
        return {**res, "test_log_likelihood": float("nan"), "test_log_likelihood_stderr": float("nan")}

    monkeypatch.setattr("explorer.cli.evaluate.evaluate", nan_scores)
    code = main(["evaluate", str(path), "--k", "2", "--n", "4", "--quiet", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code != 0 and "nan ±" not in captured.out
    assert captured.err.startswith("error: ") and "non-finite" in captured.err and captured.err.count("\n") == 1
