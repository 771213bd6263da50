"""The pixel rules, the record of a checkpoint's data and the units of its numbers, against exact answers."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from explorer import ModelConfig, build_model, load_checkpoint, save_model
from explorer.data.pixels import BatchTransform, TEST_SEED, resolve_pixels, scored_pixels, to_data
from explorer.data.ref import DatasetRef
from explorer.data.ref import model_unit
from explorer.data.units import comparison, dequantization_offset, unit_of

LOG256 = math.log(256)


def _expected_bound(k: int, m: float, s: float) -> float:
    """E_u[log N((k + u) / 256; m, s^2)] - log 256 in closed form, u ~ U[0, 1):
    E[(a + u/256 - m)^2] = (a - m)^2 + (a - m) / 256 + 1 / (3 * 256^2) with a = k / 256."""
    a = k / 256
    second = (a - m) ** 2 + (a - m) / 256 + 1 / (3 * 256 ** 2)
    return -0.5 * math.log(2 * math.pi * s * s) - second / (2 * s * s) - LOG256


@pytest.mark.parametrize("k, m, s", [(0, 0.02, 0.1), (128, 0.5, 0.05), (255, 0.9, 0.2), (30, 0.12, 0.01)])
def test_dequantized_gaussian_bounds_the_8bit_probability(k: int, m: float, s: float) -> None:
    model = build_model(ModelConfig(image_shape=(1, 1, 1), latent_dim=1, hidden=(2,), likelihood="gaussian",
                                    sigma=s), pixels="dequantized")
    with torch.no_grad():  # decoder output sigmoid^-1(m) whatever z: mean m exactly
        for p in model.decoder.parameters():
            p.zero_()
        model.decoder.net[-1].bias.fill_(math.log(m / (1 - m)))
    x = torch.full((200_000, 1, 1, 1), k / 255.0)
    y = to_data(x, "dequantized", torch.Generator().manual_seed(0))
    lp = model.decode(torch.zeros(len(y), 1)).log_prob(y).double()
    exact_bound = _expected_bound(k, m, s)
    assert lp.mean().item() == pytest.approx(exact_bound, abs=4 * lp.std().item() / math.sqrt(len(lp)) + 1e-6)
    # ...and the bound is below log P(x) of the 8-bit level, the Gaussian's mass on its cell (Jensen)
    n = Normal(torch.tensor(m, dtype=torch.float64), torch.tensor(s, dtype=torch.float64))
    log_p = math.log((n.cdf(torch.tensor((k + 1) / 256)) - n.cdf(torch.tensor(k / 256))).item())
    assert exact_bound <= log_p
    if s >= 0.05:  # a density nearly flat over a cell of width 1/256: the bound is nearly tight
        assert log_p - exact_bound < 1e-3


def test_dequantized_log_prob_is_the_density_minus_d_log_256() -> None:
    cfg = ModelConfig(image_shape=(1, 4, 5), latent_dim=2, hidden=(8,), likelihood="gaussian_learned")
    torch.manual_seed(0)
    grey = build_model(cfg, pixels="grey")
    deq = build_model(cfg, pixels="dequantized")
    deq.load_state_dict(grey.state_dict())
    z, y = torch.randn(3, 2), torch.rand(3, 1, 4, 5)
    torch.testing.assert_close(deq.decode(z).log_prob(y), grey.decode(z).log_prob(y) - 20 * LOG256)
    assert torch.equal(deq.decode(z).mean, grey.decode(z).mean)


def test_bits_per_dim() -> None:
    D = 784
    binar, eight = unit_of("binarized", "bernoulli"), unit_of("dequantized", "gaussian_learned")
    assert binar.bits_per_dim(-D * math.log(2), D) == pytest.approx(1.0)  # a fair coin per pixel: 1 bit
    assert eight.bits_per_dim(dequantization_offset(D), D) == pytest.approx(8.0)  # uniform on [0, 1): 8 bits
    assert eight.bits_per_dim(-86.0, D) == pytest.approx(86.0 / (D * math.log(2)))
    assert unit_of("grey", "bernoulli").bits_per_dim(-50.0, D) is None  # a cross-entropy has no bits/dim
    assert eight.show(-5000.0, D).startswith("-5000.00 nats per image (9.201 bits/dim")


def test_dequantization_keeps_each_pixel_in_its_cell_and_test_noise_fixed() -> None:
    x = torch.arange(256, dtype=torch.float32).div(255).view(1, 1, 16, 16).repeat(50, 1, 1, 1)
    y = to_data(x, "dequantized", torch.Generator().manual_seed(3))
    k = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16)
    assert bool(((y >= k / 256) & (y < (k + 1) / 256)).all())
    assert torch.equal(scored_pixels(x, "dequantized"), scored_pixels(x, "dequantized"))
    assert torch.equal(scored_pixels(x, "binarized"), torch.bernoulli(x, generator=torch.Generator().manual_seed(TEST_SEED)))
    assert scored_pixels(x, "grey") is x


def test_pixel_choices_and_refusals() -> None:
    assert resolve_pixels("auto", "bernoulli") == "binarized"
    assert resolve_pixels("auto", "gaussian") == resolve_pixels("auto", "gaussian_learned") == "dequantized"
    assert resolve_pixels("dynamic", "gaussian") == "binarized" and resolve_pixels("none", "bernoulli") == "grey"
    with pytest.raises(ValueError, match="Bernoulli decoder cannot score dequantized"):
        resolve_pixels("dequantized", "bernoulli")
    with pytest.raises(ValueError, match="pixels must be one of"):
        resolve_pixels("sometimes", "bernoulli")


def test_batch_transform_dae_masks_the_input_not_the_target() -> None:
    x = torch.full((4000, 1, 2, 2), 0.5)
    inputs, target = BatchTransform("binarized", noise=0.25).train(x, torch.Generator().manual_seed(1))
    assert set(target.unique().tolist()) == {0.0, 1.0}
    assert bool((inputs <= target).all()) and bool((inputs[target == 0] == 0).all())
    dropped = ((target == 1) & (inputs == 0)).sum() / (target == 1).sum()
    assert dropped.item() == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("train_config, likelihood, pixels", [
    ({"binarize": "auto"}, "bernoulli", "binarized"), ({"binarize": "auto"}, "gaussian", "grey"),
    ({"binarize": "dynamic"}, "gaussian", "binarized"), ({"binarize": "none"}, "bernoulli", "grey"),
    ({}, "bernoulli", "binarized"), ({}, "gaussian_learned", "grey")])
def test_files_from_before_the_record_named_its_pixels(train_config, likelihood, pixels) -> None:
    meta = {"dataset": {"name": "mnist", "test_from": 8000}, "train_config": train_config}
    ref = DatasetRef.from_metadata(meta, likelihood)
    assert (ref.pixels, ref.split, ref.test_seed) == (pixels, "mnist[8000:]", TEST_SEED)


def test_checkpoint_carries_its_data_record(tmp_path) -> None:
    cfg = ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(8,), likelihood="gaussian")
    ref = DatasetRef("digits", "dequantized", info={"image_shape": [1, 8, 8]})
    path = save_model(build_model(cfg, pixels=ref.pixels), tmp_path / "m.safetensors", dataset=ref.to_dict())
    ck = load_checkpoint(path)
    assert ck.dataset == ref and ck.model.pixels == "dequantized" and DatasetRef.of(ck.model) == ref
    assert model_unit(ck.model).key == "8-bit"
    old = save_model(build_model(cfg), tmp_path / "old.safetensors", dataset={"name": "digits"},
                     train_config={"binarize": "auto"})  # a file of the old rule: Gaussian on grey levels
    ck = load_checkpoint(old)
    assert ck.model.pixels == "grey" and ck.model.metadata["dataset"]["pixels"] == "grey"
    assert model_unit(ck.model).key == "grey density" and not model_unit(ck.model).probability


def test_digits_are_dequantized_and_scored_at_their_own_17_levels(tmp_path) -> None:
    """scikit-learn's digits have grey levels 0..16: dequantized, each pixel fills its level's cell of width 1/17,
    the decoder's offset is -D log 17, and a uniform model scores log2(17) bits/dim, not 8."""
    from explorer.data import load_dataset
    from explorer.data.pixels import levels_of
    assert levels_of("digits") == 17 and levels_of("mnist") == levels_of(None) == 256
    digits = load_dataset("digits")
    ref = DatasetRef.for_training(digits, "auto", "gaussian")
    assert (ref.pixels, ref.levels) == ("dequantized", 17)
    k = torch.round(digits.test_x * 16)
    assert torch.equal(k, digits.test_x * 16)  # the data really has 17 levels
    y = ref.scored(digits.test_x)
    gen = torch.Generator().manual_seed(TEST_SEED)
    assert torch.equal(y, (k + torch.rand(k.shape, generator=gen)) / 17)
    unit = unit_of("dequantized", "gaussian", 17)
    assert unit.key == "17-level" and unit.probability and "17-level image" in unit.meaning
    assert unit.bits_per_dim(dequantization_offset(64, 17), 64) == pytest.approx(math.log2(17))
    cfg = ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(8,), likelihood="gaussian_learned")
    torch.manual_seed(0)
    grey, deq = build_model(cfg, pixels="grey"), build_model(cfg, pixels=ref.pixels, levels=ref.levels)
    deq.load_state_dict(grey.state_dict())
    z = torch.randn(3, 2)
    torch.testing.assert_close(deq.decode(z).log_prob(y[:3]), grey.decode(z).log_prob(y[:3]) - 64 * math.log(17))
    assert BatchTransform.for_model(deq).test(digits.test_x).equal(y)  # the trainer scores the same images
    path = save_model(deq, tmp_path / "d.safetensors", dataset=ref.to_dict())
    ck = load_checkpoint(path)
    assert ck.dataset.levels == ck.model.levels == 17 and model_unit(ck.model).key == "17-level"
    old = dict(ref.to_dict())
    del old["levels"]  # a file from before levels were recorded was dequantized at 256
    assert DatasetRef.from_metadata({"dataset": old}, "gaussian").levels == 256


def test_units_that_differ_are_not_ranked() -> None:
    binar, eight = unit_of("binarized", "bernoulli"), unit_of("dequantized", "gaussian")
    xent = unit_of("grey", "bernoulli")
    assert comparison(binar, binar) is None and comparison(eight, eight) is None
    assert "not comparable" in comparison(binar, eight)
    assert "not ranked" in comparison(xent, xent)


def test_cli_trains_a_gaussian_on_dequantized_pixels_and_reports_its_unit(tmp_path, capsys) -> None:
    import json

    from explorer.cli import main

    common = ["--dataset", "digits", "--likelihood", "gaussian_learned", "--hidden", "16", "--epochs", "2",
              "--threads", "1", "--quiet"]
    for pixels in ("auto", "grey"):
        out = tmp_path / f"{pixels}.safetensors"
        assert main(["train", *common, "--pixels", pixels, "--out", str(out)]) == 0
        assert main(["evaluate", str(out), "--k", "8", "--n", "20", "--quiet", "--threads", "1",
                     "--json-out", str(tmp_path / f"{pixels}.json")]) == 0
        res = json.loads((tmp_path / f"{pixels}.json").read_text())
        printed = capsys.readouterr().out
        if pixels == "auto":  # a Gaussian decoder: dequantized at digits' 17 levels, a bound on a log-probability
            assert load_checkpoint(out).dataset.pixels == "dequantized"
            assert res["unit"] == "17-level" and res["test_log_likelihood"] < 0
            assert res["test_bits_per_dim"] == pytest.approx(-res["test_log_likelihood"] / (64 * math.log(2)))
            assert "bits/dim" in printed and "lower bound on the 17-level image's log-probability" in printed
        else:  # grey levels: a density, not a probability, so no bits/dim
            assert res["unit"] == "grey density" and res["test_bits_per_dim"] is None
            assert "not a probability" in printed and "bits/dim" not in printed
        assert main(["info", str(out)]) == 0
        assert "units: nats per image" in capsys.readouterr().out
    assert main(["train", *common, "--pixels", "grey", "--resume", str(tmp_path / "auto.safetensors"),
                 "--epochs", "3", "--out", str(tmp_path / "auto.safetensors")]) == 2
    assert "trained on dequantized pixels, but --pixels says grey" in capsys.readouterr().err


def test_dequantized_expands_with_its_offset_and_a_fresh_model_knows_its_unit() -> None:
    cfg = ModelConfig(image_shape=(1, 2, 2), latent_dim=1, hidden=(2,), likelihood="gaussian")
    model = build_model(cfg, pixels="dequantized")
    d = model.decode(torch.zeros(1, 1))
    y = torch.rand(3, 1, 2, 2)
    torch.testing.assert_close(d.expand(torch.Size([3])).log_prob(y), d.log_prob(y))
    assert model_unit(model).key == "8-bit"  # no metadata yet: the pixel rule it was built with


def test_a_pixel_rule_the_decoder_cannot_score_is_refused_at_load(tmp_path) -> None:
    from explorer import CheckpointError

    path = save_model(build_model(ModelConfig(image_shape=(1, 2, 2), latent_dim=1, hidden=(2,))),
                      tmp_path / "b.safetensors", dataset={"name": "digits", "pixels": "dequantized"})
    with pytest.raises(CheckpointError, match="cannot score dequantized|no unit"):
        load_checkpoint(path)
