"""Evaluation against cases with known answers: a linear Gaussian model has an exact log p(x) and posterior."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch.distributions import Independent, Normal, StudentT

import explorer
from explorer.evaluation import (ALIVE_KL, ElboGap, GivenPosterior, LogLikelihood, active_units, alive,
                                 amortization_gap, best_estimate, compare_estimators, count_alive, elbo_gap, evaluate,
                                 gradient_variance, log_likelihood, log_likelihood_with_weights, log_weights,
                                 naive_log_likelihood)
from explorer.evaluation import fast
from explorer.model.devices import single_threaded
from tests.reference_models import LinearGaussian, binarize

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def lg() -> LinearGaussian:
    return LinearGaussian.orthogonal()


def test_importance_sampling_converges_to_exact_log_px(lg):
    lg.widen, lg.shift = 1.2, 0.1  # an imperfect proposal
    x = lg.sample_x(5)
    exact = lg.exact_log_px(x)
    ll = log_likelihood(lg, x, k=5000)
    assert ll.estimate.shape == (5,)
    assert (ll.estimate - exact).abs().max() < 0.05
    assert (ll.stderr < 0.05).all() and (ll.ess > 1).all() and (ll.ess <= 5000).all()
    gap = elbo_gap(lg, x, k=5000)
    assert (gap.elbo < exact).all()  # Jensen: the ELBO is a lower bound
    assert (gap.gap > 0).all()
    torch.testing.assert_close(gap.recon - gap.kl, gap.elbo)


def test_float64_model_and_a_bare_normal_prior():
    lg = LinearGaussian.orthogonal(dtype=torch.float64)
    lg.widen = 1.3
    x = lg.sample_x(3)
    ll = log_likelihood(lg, x, k=2000)
    assert ll.estimate.dtype == torch.float64
    assert (ll.estimate - lg.exact_log_px(x)).abs().max() < 0.05
    lg.prior = Normal(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))  # not Independent
    torch.testing.assert_close(log_likelihood(lg, x, k=2000).estimate, ll.estimate)
    assert naive_log_likelihood(lg, x, k=100).estimate.shape == (3,)


def test_any_proposal_distribution(lg):
    """An encoder returning a heavy-tailed Student-t q(z|x) goes through the generic sampling path."""
    exact_q = lg.encode

    def student_encode(x):
        base = exact_q(x).base_dist
        return Independent(StudentT(4.0, base.loc, 1.2 * base.scale), 1)

    lg.encode = student_encode
    x = lg.sample_x(3)
    ll = log_likelihood(lg, x, k=5000)
    assert (ll.estimate - lg.exact_log_px(x)).abs().max() < 0.05
    torch.testing.assert_close(log_likelihood(lg, x, k=5000, max_rows=100).estimate, ll.estimate)


def test_exact_posterior_closes_the_gap(lg):
    x = lg.sample_x(4)
    exact = lg.exact_log_px(x)
    gap = elbo_gap(lg, x, k=200)
    # every weight p(x, z) / p(z|x) equals p(x): estimate exact, stderr 0, ELBO = log p(x)
    assert (gap.log_px.estimate - exact).abs().max() < 1e-3
    assert gap.gap.abs().max() < 1e-3 and gap.log_px.stderr.max() < 1e-4
    lg.widen = 1.5
    assert (elbo_gap(lg, x, k=200).gap > 0.05).all()  # a wrong q opens the gap


def test_stderr_is_honest(lg):
    lg.widen, lg.shift = 1.4, 0.3
    x = lg.sample_x(6)
    runs = [log_likelihood(lg, x, k=100, seed=s) for s in range(40)]
    spread = torch.stack([r.estimate for r in runs]).std(0)
    reported = torch.stack([r.stderr for r in runs]).mean(0)
    ratio = (spread / reported).mean().item()
    assert 0.6 < ratio < 1.6, ratio


def test_naive_monte_carlo_is_noisier_and_biased_low():
    lg = LinearGaussian.orthogonal(sigma=0.2)  # a sharp posterior: few prior draws land where p(x|z) is large
    lg.widen = 1.2  # not the exact posterior, which would make importance sampling exact
    x = lg.sample_x(4)
    cmp = compare_estimators(lg, x, k=200, repeats=8)
    assert cmp.naive.shape == (8, 4)
    assert (cmp.naive_spread > 10 * cmp.importance_spread).all()
    assert (cmp.naive_bias < 0).all()  # log of a mean of a heavy-tailed w: Jensen, and rare large w
    assert (cmp.naive_stderr > cmp.importance_stderr).all()
    assert naive_log_likelihood(lg, x, k=50).proposal == "prior"


def test_chunking_and_batching_do_not_change_the_answer(lg):
    lg.widen = 1.3
    x = lg.sample_x(5)
    whole = log_likelihood(lg, x, k=300, max_rows=10 ** 6)
    for kw in ({"max_rows": 7}, {"max_rows": 64, "batch_size": 2}, {"batch_size": 1, "workers": 2}):
        part = log_likelihood(lg, x, k=300, **kw)
        torch.testing.assert_close(part.estimate, whole.estimate, rtol=0, atol=1e-5)
        torch.testing.assert_close(part.stderr, whole.stderr, rtol=1e-4, atol=1e-7)
    other = log_likelihood(lg, x, k=300, seed=1)
    assert not torch.equal(other.estimate, whole.estimate)
    # example i's draws depend on its index only: a prefix gives the same numbers
    torch.testing.assert_close(log_likelihood(lg, x[:2], k=300).estimate, whole.estimate[:2])


def test_estimate_and_weights_from_one_pass_equal_the_two_calls(lg):
    lg.widen = 1.3
    x = lg.sample_x(3)
    for proposal in ("posterior", "prior"):
        ll, lw = log_likelihood_with_weights(lg, x, 300, proposal=proposal, seed=4, max_rows=64)
        ref = log_likelihood(lg, x, 300, proposal=proposal, seed=4)
        assert lw.shape == (300, 3) and ll.proposal == proposal and ll.k == 300
        torch.testing.assert_close(lw, log_weights(lg, x, 300, proposal=proposal, seed=4))
        for name in ("estimate", "stderr", "ess", "mean_log_weight", "recon"):
            torch.testing.assert_close(getattr(ll, name), getattr(ref, name), rtol=1e-5, atol=1e-5)
    gap, ref = ElboGap.of(log_likelihood_with_weights(lg, x, 300, seed=4)[0]), elbo_gap(lg, x, k=300, seed=4)
    for name in ("elbo", "recon", "kl", "gap"):
        torch.testing.assert_close(getattr(gap, name), getattr(ref, name), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="q\\(z\\|x\\)"):
        ElboGap.of(naive_log_likelihood(lg, x, k=10))


def test_given_posterior_is_the_proposal(lg):
    x = lg.sample_x(3)
    exact = lg.exact_log_px(x)
    q = lg.encode(x)  # the exact posterior: every weight equals p(x)
    loc, scale = q.base_dist.loc, q.base_dist.scale
    ll = log_likelihood(GivenPosterior(lg, loc, scale), x, k=100)
    assert (ll.estimate - exact).abs().max() < 1e-3 and ll.stderr.max() < 1e-4
    worse = log_likelihood(GivenPosterior(lg, loc + 1.0, scale), x, k=100)
    assert (worse.estimate < exact - 0.01).all()  # a shifted proposal: the estimate is biased low
    with pytest.raises(ValueError, match="holds q for 3 examples, got 2"):
        log_likelihood(GivenPosterior(lg, loc, scale), x[:2], k=10)


def test_best_estimate_is_the_larger_and_the_tighter(lg):
    """log p(x) is known exactly here. With the exact posterior as q* every weight equals p(x), so its
    estimate is exact; a narrow, off-centre encoder is a poor proposal whose k = 10 estimate is far low."""
    x = lg.sample_x(4)
    exact = lg.exact_log_px(x)
    q = lg.encode(x)
    loc, scale = q.base_dist.loc, q.base_dist.scale
    star = log_likelihood(GivenPosterior(lg, loc, scale), x, k=10)
    lg.shift, lg.widen = 1.0, 0.5
    enc = log_likelihood(lg, x, k=10)
    assert (enc.estimate < exact - 5).all() and (star.estimate - exact).abs().max() < 1e-4
    best = best_estimate(q_star=star, encoder=enc)
    assert best.chosen == ["q_star"] * 4 and best.count("q_star") == 4 and best.names == ("q_star", "encoder")
    torch.testing.assert_close(best.estimate, star.estimate, rtol=0, atol=0)
    torch.testing.assert_close(best.stderr, star.stderr, rtol=0, atol=0)
    assert best.mean() == pytest.approx(exact.mean().item(), abs=1e-4)
    # example by example: an exact encoder, and a q* moved off for examples 2 and 3 only
    lg.shift, lg.widen = 0.0, 1.0
    off = loc.clone()
    off[2:] += 1.0
    best = best_estimate(q_star=log_likelihood(GivenPosterior(lg, off, scale), x, k=10),
                         encoder=log_likelihood(lg, x, k=10))
    assert best.chosen[2:] == ["encoder", "encoder"] and (best.estimate - exact).abs().max() < 1e-4
    # two imperfect proposals, each near the truth within its noise: the choice is the larger, and the
    # maximum of two noisy estimates may land a little above the truth (within the noise, see best_estimate)
    lg.widen, lg.shift = 1.3, 0.2
    a = log_likelihood(lg, x, k=500)
    b = log_likelihood(GivenPosterior(lg, loc + 0.1, 1.5 * scale), x, k=500)
    best = best_estimate(a=a, b=b)
    torch.testing.assert_close(best.estimate, torch.maximum(a.estimate, b.estimate), rtol=0, atol=0)
    for e in (a, b, best):
        assert ((e.estimate - exact).abs() < 3 * e.stderr).all()


def test_best_estimate_ties_nan_and_mismatched_sizes():
    def ll(values):
        v = torch.tensor(values)
        return LogLikelihood(v, torch.full_like(v, 0.1), v, v, v, k=10, proposal="posterior")

    best = best_estimate(first=ll([1.0, 2.0, float("nan")]), second=ll([1.0, 1.5, -3.0]))
    assert best.chosen == ["first", "first", "second"]  # a tie keeps the first; a NaN is never chosen
    assert best.estimate.tolist() == [1.0, 2.0, -3.0]
    with pytest.raises(ValueError, match="different numbers of examples"):
        best_estimate(a=ll([1.0]), b=ll([1.0, 2.0]))
    with pytest.raises(ValueError, match="at least one"):
        best_estimate()
    one = ll([1.0, 2.0, 3.0]).select([1])
    assert one.estimate.tolist() == [2.0] and one.k == 10 and one.proposal == "posterior"


def test_single_threaded_restores_and_leaves_running_threads_alone():
    import threading

    before, seen = torch.get_num_threads(), {}
    entered, read = threading.Event(), threading.Event()

    def other():  # a thread already running (a training, another session's script) keeps its count
        torch.get_num_threads()  # its first torch call takes the process default; later ones keep its own
        torch.set_num_threads(2)
        entered.wait(10)
        seen["other"] = torch.get_num_threads()
        read.set()

    torch.set_num_threads(2)
    t = threading.Thread(target=other)
    t.start()
    try:
        with single_threaded():
            seen["inside"] = torch.get_num_threads()
            entered.set()
            read.wait(10)
        seen["after"] = torch.get_num_threads()
    finally:
        t.join()
        torch.set_num_threads(before)
    assert seen == {"inside": 1, "other": 2, "after": 2}


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
def test_fast_path_equals_generic_decoder(activation):
    torch.manual_seed(0)
    model = explorer.build_model(explorer.ModelConfig(latent_dim=5, hidden=(32, 16), activation=activation))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # confident logits, far into softplus' tails
    assert fast.for_model(model) is not None
    x = torch.bernoulli(torch.rand(7, 1, 28, 28))
    x[0] = torch.rand(1, 28, 28)  # grey levels too: the continuous Bernoulli cross-entropy
    a = log_weights(model, x, 64, use_fast_path=True)
    b = log_weights(model, x, 64, use_fast_path=False)
    torch.testing.assert_close(a, b, rtol=0, atol=2e-3)
    z = torch.randn(7, 3, 5)  # example-major
    torch.testing.assert_close(fast.for_model(model).log_prob(z, fast.for_model(model).prepare(x)),
                               model.decode(z.transpose(0, 1)).log_prob(x).T, rtol=0, atol=2e-3)


def test_fast_path_only_where_it_applies():
    cfg = dict(latent_dim=3, hidden=(8,), image_shape=(1, 8, 8))
    assert fast.for_model(explorer.build_model(explorer.ModelConfig(**cfg, likelihood="gaussian"))) is None
    assert fast.for_model(explorer.build_model(explorer.ModelConfig(**cfg, arch="conv"))) is None


def test_public_api_on_a_latent_model():
    model = explorer.build_model(explorer.ModelConfig(latent_dim=4, hidden=(16,)))
    x = torch.bernoulli(torch.rand(3, 1, 28, 28))
    est = explorer.estimate_log_likelihood(model, x, k=32)
    assert est.shape == (3,) and est.dtype == torch.float32 and torch.isfinite(est).all()
    torch.testing.assert_close(est, explorer.log_likelihood(model, x, k=32).estimate)
    model.train()
    explorer.estimate_log_likelihood(model, x, k=4)
    assert model.training  # mode restored


def test_amortization_gap(lg):
    x = lg.sample_x(3)
    exact = lg.exact_log_px(x)
    lg.ignore_x = True  # a deliberately bad encoder: q(z|x) = p(z)
    res = amortization_gap(lg, x, steps=300, lr=0.05, samples=16, eval_samples=2000)
    assert (res.gap >= 0).all()
    assert (res.elbo_optimised > res.elbo_encoder + 1.0).all()
    # the family holds the exact posterior, so the optimised ELBO approaches log p(x) (from below, up to noise)
    assert (res.elbo_optimised - exact).abs().max() < 0.15
    torch.testing.assert_close(res.loc.double(), lg.posterior_mean(x), atol=0.15, rtol=0)
    lg.ignore_x = False  # the exact posterior: nothing left to gain
    assert amortization_gap(lg, x, steps=50, eval_samples=2000).gap.max() < 0.05


def test_active_units_and_collapse_warning(lg):
    lg.W[:, 1] = 0.0  # dimension 1 ignores x: its posterior is the prior
    x = lg.sample_x(200)
    au = active_units(lg, x)
    assert au.active.tolist() == [True, False, True] and au.count == 2 and not au.collapsed
    assert au.kl_per_dim[1].abs() < 1e-6 and (au.kl_per_dim[[0, 2]] > 0.1).all()
    assert au.warning is None
    lg.W[:, 2] = 0.0
    au = active_units(lg, x)
    assert au.count == 1 and au.collapsed and "1 of 3" in au.warning


@pytest.mark.parametrize("kind", ["ae", "dae"])
def test_active_units_of_an_autoencoder_reads_its_code(kind):
    """Burda's rule needs only E_q[z|x]; an AE's code is a point mass there, with no KL to a prior."""
    from explorer.model.config import ModelConfig
    from explorer.model.latent_model import build_model
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=3, kind=kind, hidden=(16,)))
    x = torch.rand(50, 1, 8, 8)
    au = active_units(model, x)
    with torch.no_grad():
        code = model.eval().encode(x).mean
    torch.testing.assert_close(au.variance, code.var(0))
    assert au.active.tolist() == (code.var(0) > 0.01).tolist()
    assert au.kl_per_dim is None and au.alive is None


def test_the_estimators_commands_encoder_estimate_shares_the_first_comparison_runs_draws(lg):
    """`estimators` says its encoder estimate uses the same draws as the first run of the comparison."""
    from explorer.cli.estimators import encoder_estimate
    x = lg.sample_x(5)
    cmp = compare_estimators(lg, x, k=50, repeats=2, seed=3)
    torch.testing.assert_close(encoder_estimate(lg, x, 50, 3).estimate, cmp.importance[0], rtol=0, atol=0)


def test_alive_and_active_are_two_rules_with_known_answers():
    """Four dimensions built so each rule's answer is known exactly (evaluation.latent_use): mean KL against
    N(0, 1) is 1/2 mean(mu^2 + s^2 - 1 - log s^2) (Kingma & Welling 2014, app. B); active is Var_x mu > 0.01."""
    x = torch.tensor([-1.0, 1.0] * 50, dtype=torch.float64)[:, None]  # mean 0, mean of squares 1
    c = math.sqrt(0.015 * 99 / 100)  # Var_x (unbiased, N = 100) of c x is 0.015

    class Encoder:
        prior = Independent(Normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)), 1)

        def encode(self, x):
            zero = torch.zeros_like(x[:, 0])
            loc = torch.stack([x[:, 0], zero, zero, c * x[:, 0]], 1)
            scale = torch.tensor([1.0, 0.5, 1.0, 1.0], dtype=torch.float64).expand_as(loc)
            return Independent(Normal(loc, scale), 1)

    au = active_units(Encoder(), x)
    torch.testing.assert_close(au.variance, torch.tensor([100 / 99, 0.0, 0.0, 0.015], dtype=torch.float64))
    sharp = 0.5 * (0.25 - 1 - math.log(0.25))  # sigma 0.5 whatever x: KL paid for nothing about x
    torch.testing.assert_close(au.kl_per_dim, torch.tensor([0.5, sharp, 0.0, c * c / 2], dtype=torch.float64))
    assert au.active.tolist() == [True, False, False, True] and au.count == 2
    # dimension 1 is alive but not active; dimension 3 is active (Var 0.015) with KL 0.0074: not alive
    assert au.alive == [True, True, False, False] and count_alive(au.kl_per_dim) == 2
    assert alive([0.5, ALIVE_KL, ALIVE_KL * 1.001, 0.0]) == [True, False, True, False]


def test_gradient_variance_of_the_two_sgvb_estimators():
    torch.manual_seed(0)
    model = explorer.build_model(explorer.ModelConfig(latent_dim=4, hidden=(32,), image_shape=(1, 8, 8)))
    x = torch.bernoulli(torch.rand(16, 1, 8, 8))
    res = gradient_variance(model, x, samples=1, repeats=30)
    a, m = res["analytic"], res["mc"]
    assert set(a.mean_variance) == {"encoder", "decoder", "all"} and a.samples == 1 and a.repeats == 30
    # same eps in both: the decoder never sees the KL term, so its gradients are identical
    assert a.total_variance["decoder"] == pytest.approx(m.total_variance["decoder"], rel=1e-4)
    # the closed-form KL removes a source of noise from the encoder's gradient (Kingma & Welling 2014, 2.3)
    assert 0 < a.total_variance["encoder"] < m.total_variance["encoder"]
    assert set(a.per_tensor) == {n for n, _ in model.named_parameters()}
    assert all(p.grad is None for p in model.parameters())  # autograd.grad: the model's .grad untouched
    amortization_gap(model, x[:2], steps=3)
    assert all(p.grad is None for p in model.parameters())
    assert a.total_variance["all"] == pytest.approx(a.total_variance["encoder"] + a.total_variance["decoder"])


def test_evaluate_report_and_cli(tmp_path, capsys):
    torch.manual_seed(0)
    model = explorer.build_model(explorer.ModelConfig(latent_dim=3, hidden=(16,)))
    opt = torch.optim.Adam(model.parameters())
    explorer.objective(model, torch.rand(4, 1, 28, 28)).loss.backward()
    opt.step()
    ckpt = tmp_path / "m.safetensors"
    history = {"epochs": [{"epoch": 1, "test_elbo": -200.0}], "steps": []}
    explorer.save_model(model, ckpt, optimizer=opt, dataset={"name": "mnist", "test_size": 10000},
                        history=history, metrics={"epochs": 1})
    out = tmp_path / "r.json"
    from explorer.cli import main
    assert main(["evaluate", str(ckpt), "--k", "16", "--n", "5", "--json-out", str(out), "--update-checkpoint",
                 "--quiet"]) == 0
    res = json.loads(out.read_text())
    for key in ("test_log_likelihood", "test_log_likelihood_stderr", "test_elbo", "test_recon", "test_kl",
                "active_units", "seconds"):
        assert key in res
    assert res["n"] == 5 and res["k"] == 16
    printed = capsys.readouterr().out  # each count beside the rule it counts by (evaluation.latent_use)
    assert "ELBO" in printed and printed.count("nats per image") >= 5  # one unit on every number
    assert f"active dimensions    {res['active_units']} / 3   (Var_x E_q[z_d|x] > 0.01, Burda" in printed
    alive_count = sum(k > 0.01 for k in res["kl_per_dim"])
    assert f"alive dimensions     {alive_count} / 3   (mean KL(q(z_d|x) || p(z_d)) > 0.01 nats)" in printed
    assert res["test_elbo"] <= res["test_log_likelihood"] + 1e-3
    ck = explorer.load_checkpoint(ckpt)
    loaded, opt_state = ck.model, ck.optimizer_state
    meta = loaded.metadata
    assert meta["history"] == history and meta["dataset"]["name"] == "mnist" and opt_state is not None
    assert meta["metrics"]["epochs"] == 1  # kept
    assert meta["metrics"]["test_log_likelihood"] == pytest.approx(res["test_log_likelihood"])
    # the same binarized test images as the trainer's (whole split, seed 1234), then the first n
    from explorer.cli.evaluate import test_images
    full = binarize(explorer.load_dataset("mnist", test_only=True).test_x, seed=1234)
    x = test_images(loaded, n=5)
    assert torch.equal(x, full[:5])
    direct = evaluate(loaded, x, k=16)
    assert direct["test_log_likelihood"] == pytest.approx(res["test_log_likelihood"], abs=1e-4)


def test_evaluate_scores_grey_levels_for_a_model_trained_without_binarization(tmp_path):
    from explorer.cli.evaluate import test_images

    model = explorer.build_model(explorer.ModelConfig(latent_dim=2, hidden=(8,)))
    ckpt = explorer.save_model(model, tmp_path / "grey.safetensors", dataset={"name": "mnist"},
                               train_config={"binarize": "none"})
    grey = explorer.load_dataset("mnist", test_only=True).test_x[:5]
    assert torch.equal(test_images(explorer.load_model(ckpt), n=5), grey)
