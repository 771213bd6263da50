"""The spread of log p(x) estimates over repeated runs, against brute force and exact cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.evaluation import estimate_bands, log_weights, repeats_for, running_estimates
from explorer.figures.estimates import estimates_figure, gap_text, y_range
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model


def test_running_estimates_equal_brute_force():
    lw = torch.randn(50, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    ks = [1, 2, 5, 17, 50]
    got = running_estimates(lw, ks)
    want = np.array([[math.log(np.mean(np.exp(lw[:k, r].numpy()))) for k in ks] for r in range(7)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_equal_weights_have_no_spread():
    b = estimate_bands(torch.full((10, 4), -3.5), [1, 4, 10])
    np.testing.assert_allclose(np.c_[b.low, b.median, b.high], -3.5, atol=1e-12)
    np.testing.assert_allclose(b.std, 0, atol=1e-12)


def test_at_k_1_the_band_is_the_quantiles_of_one_log_weight():
    lw = torch.randn(3, 1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    b = estimate_bands(lw, [1], quantiles=(0.25, 0.75))
    q = np.quantile(lw[0].numpy(), [0.25, 0.5, 0.75])
    assert (b.low[0], b.median[0], b.high[0]) == pytest.approx(tuple(q), abs=1e-12)
    assert b.std[0] == pytest.approx(np.std(lw[0].numpy(), ddof=1), abs=1e-12) and b.runs == 1000


def test_lognormal_weights_the_log_of_the_mean_is_biased_low_and_shrinks():
    """w = exp(N(0, s^2)): E w = exp(s^2 / 2), so log E w = s^2 / 2; the median k-draw estimate is below it
    and climbs toward it as k grows (Jensen), and the spread narrows."""
    s = 1.5
    lw = torch.randn(4000, 400, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * s
    b = estimate_bands(lw, [1, 10, 100, 4000])
    truth = s * s / 2
    assert np.all(b.median < truth) and np.all(np.diff(b.median) > 0)
    assert np.all(np.diff(b.high - b.low) < 0)
    assert b.median[-1] == pytest.approx(truth, abs=0.1)


def test_bad_shapes_and_ks_are_refused():
    with pytest.raises(ValueError, match="draws, runs"):
        running_estimates(torch.zeros(5), [1])
    with pytest.raises(ValueError, match="between 1 and the 5 draws"):
        running_estimates(torch.zeros(5, 2), [6])
    with pytest.raises(ValueError, match="quantiles"):
        estimate_bands(torch.zeros(5, 2), [1], quantiles=(0.9, 0.1))


def test_repeats_stay_within_the_draw_budget():
    assert [repeats_for(k) for k in (1, 1000, 5000, 20000)] == [30, 30, 8, 2]
    assert all(repeats_for(k) * k <= 40_000 or repeats_for(k) == 2 for k in (1, 10, 100, 1000, 5000))


def test_runs_of_a_batch_are_independent_and_run_0_is_the_single_run():
    """One image repeated R times is R independent streams, the first equal to the image scored alone."""
    torch.manual_seed(0)
    tiny_vae = build_model(ModelConfig(image_shape=(1, 28, 28), hidden=(16,), latent_dim=2)).eval()
    x = torch.rand(1, 1, 28, 28).round()
    alone = log_weights(tiny_vae, x, 64, seed=3)
    many = log_weights(tiny_vae, x.expand(5, 1, 28, 28), 64, seed=3)
    torch.testing.assert_close(many[:, :1], alone)
    assert not torch.allclose(many[:, 0], many[:, 1])


def test_the_y_axis_follows_the_importance_sampled_band_and_says_where_naive_went():
    ks = [1, 10, 100]
    good = estimate_bands(torch.randn(100, 5, dtype=torch.float64) * 0.3 - 90, ks)
    naive = estimate_bands(torch.randn(100, 5, dtype=torch.float64) * 5 - 300, ks)
    fig, below = estimates_figure({"is": good.median, "naive": naive.median}, {"is": good, "naive": naive},
                                  elbo=-92.0, focus="is")
    lo, hi = fig.layout.yaxis.range
    assert (lo, hi) == pytest.approx(y_range(good, -92.0))
    assert lo < -92 < hi and lo > -120
    assert below is not None and below.startswith("the median run of naive is below the plot up to k = 100")


@pytest.mark.parametrize("value, se, note", [
    (0.4, 0.1, None), (-0.1, 0.2, "Monte Carlo noise"), (-1.0, 0.2, "underestimated"),
    (-0.3, float("nan"), "Monte Carlo noise")])
def test_a_negative_gap_is_labelled(value, se, note):
    shown, said = gap_text(value, se)
    assert shown.startswith(f"{value:.2f}")
    assert (said is None) if note is None else (note in said)
