"""Each named convention means what conventions.py says, against formulas written out here; a wrong name is
caught where the numbers show it, with a message naming the option to change."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import explorer
from explorer.model.conventions import ConventionError, observation, posterior


class Heads(nn.Module):
    """An encoder of fixed outputs, one tensor or several."""

    def __init__(self, *outs: torch.Tensor):
        super().__init__()
        self.outs = outs

    def forward(self, x):
        n = len(x)
        outs = [o.expand(n, *o.shape[1:]) for o in self.outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


class Const(nn.Module):
    """A decoder whose output is `value` for every code of size `latent`."""

    def __init__(self, value: torch.Tensor, latent: int):
        super().__init__()
        self.value, self.lin = value, nn.Linear(latent, 1)

    def forward(self, z):
        return self.value.expand(len(self.lin(z)), *self.value.shape[1:])


A, B = torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([[-0.2, 0.3, 0.1]])


@pytest.mark.parametrize("name, scale", [("mean_logvar", torch.exp(0.5 * B)), ("mean_logstd", torch.exp(B)),
                                         ("mean_std", B.abs())])
def test_encoder_outputs(name, scale):
    second = B.abs() if name == "mean_std" else B
    for outs in ([A, second], [torch.cat([A, second], -1)]):  # two outputs, or one split in half
        q = posterior(outs, name, 3)
        torch.testing.assert_close(q.mean, A)
        torch.testing.assert_close(q.stddev, scale)
        z = torch.tensor([[0.1, 0.2, 0.3]])
        want = sum(-0.5 * math.log(2 * math.pi) - math.log(s) - 0.5 * ((v - m) / s) ** 2
                   for v, m, s in zip(z[0].tolist(), A[0].tolist(), scale[0].tolist()))
        assert float(q.log_prob(z)) == pytest.approx(want, rel=1e-6, abs=1e-5)


def test_point_and_third_output():
    q = posterior([A], "point", 3)
    assert torch.equal(q.mean, A) and torch.equal(q.variance, torch.zeros_like(A))
    q = posterior([A, B, torch.zeros(1, 3)], "mean_logvar", 3)  # Keras' (z_mean, z_log_var, z)
    torch.testing.assert_close(q.stddev, torch.exp(0.5 * B))


def test_likelihoods():
    x = torch.tensor([0.0, 1.0, 0.25, 0.75]).view(1, 1, 2, 2)
    out = torch.tensor([-1.0, 2.0, 0.5, 0.0]).view(1, 1, 2, 2)
    p = torch.sigmoid(out)
    bern = (x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert float(observation(out, "bernoulli_logits", None).log_prob(x)) == pytest.approx(float(bern), abs=1e-5)
    assert float(observation(p, "bernoulli_probs", None).log_prob(x)) == pytest.approx(float(bern), abs=1e-5)
    g = observation(out, "gaussian", 0.3)
    want = (-0.5 * math.log(2 * math.pi) - math.log(0.3) - 0.5 * ((x - out) / 0.3) ** 2).sum()
    assert float(g.log_prob(x)) == pytest.approx(float(want), abs=1e-4) and torch.equal(g.mean, out)
    lv = torch.full_like(out, -1.0)
    g2 = observation(torch.cat([out, lv], 1), "gaussian_mean_logvar", None)
    want2 = (-0.5 * math.log(2 * math.pi) - 0.5 * lv - 0.5 * (x - out) ** 2 / lv.exp()).sum()
    assert float(g2.log_prob(x)) == pytest.approx(float(want2), abs=1e-4)


def _make(enc_outs, dec_value, latent, **kw):
    return explorer.from_torch(Heads(*enc_outs), Const(dec_value, latent), image_shape=(1, 2, 2), **kw)


def test_probabilities_outside_unit_interval_name_the_option():
    with pytest.raises(ConventionError, match="bernoulli_logits"):
        _make([A, B], torch.full((1, 4), 3.0), 3, encoder_output="mean_logvar", likelihood="bernoulli_probs")


def test_logits_that_look_like_probabilities_name_the_option():
    with pytest.raises(ConventionError, match="bernoulli_probs"):
        _make([A, B], torch.full((1, 4), 0.4), 3, encoder_output="mean_logvar", likelihood="bernoulli_logits")


def test_latent_size_disagreement_is_caught():
    with pytest.raises(ConventionError, match="size 3"):
        _make([A, B], torch.full((1, 4), -1.0), 5, encoder_output="mean_logvar", likelihood="bernoulli_logits")


def test_negative_std_and_missing_sigma_and_odd_split():
    with pytest.raises(ConventionError, match="mean_logvar"):
        _make([A, B], torch.full((1, 4), -1.0), 3, encoder_output="mean_std", likelihood="bernoulli_logits")
    with pytest.raises(ConventionError, match="sigma"):
        _make([A, B], torch.full((1, 4), 0.5), 3, encoder_output="mean_logvar", likelihood="gaussian")
    with pytest.raises(ConventionError, match="point"):
        _make([A], torch.full((1, 4), -1.0), 3, encoder_output="mean_logvar", likelihood="bernoulli_logits")
    with pytest.raises(ConventionError, match="image_shape"):
        _make([A, B], torch.full((1, 5), -1.0), 3, encoder_output="mean_logvar", likelihood="bernoulli_logits")
    with pytest.raises(ConventionError, match="encoder_output must be"):
        _make([A, B], torch.full((1, 4), -1.0), 3, encoder_output="mu_sigma", likelihood="bernoulli_logits")


def test_point_encoder_is_an_autoencoder_and_nhwc_decoder_is_read():
    m = _make([A], torch.full((1, 2, 2, 1), -1.0), 3, encoder_output="point", likelihood="bernoulli_logits",
              layout="nhwc")
    assert m.config.kind == "ae" and not m.is_variational
    assert m.decode(torch.zeros(2, 3)).mean.shape == (2, 1, 2, 2)


def test_point_with_a_mean_and_a_spread_and_an_unknown_dataset_are_refused():
    with pytest.raises(ConventionError, match="mean_logvar"):
        _make([A, B], torch.full((1, 4), -1.0), 3, encoder_output="point", likelihood="bernoulli_logits")
    with pytest.raises(ConventionError, match="mnist"):
        _make([A, B], torch.full((1, 4), -1.0), 3, encoder_output="mean_logvar", likelihood="bernoulli_logits",
              dataset="mnistt")


def test_one_module_with_encode_and_decode_counts_its_parameters_once():
    from tests.foreign_models import examples_vae

    m = explorer.from_torch(examples_vae(), image_shape=(1, 28, 28), encoder_output="mean_logvar",
                            likelihood="bernoulli_probs")
    assert m.num_parameters() == 652_824
