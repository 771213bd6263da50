"""Evaluation of latent-variable models: marginal likelihood, the ELBO's gaps, gradient variance, active units.

Works on any object with encode(x) -> q(z|x), decode(z) -> p(x|z) (z of shape (S, N, D)) and prior.
All values are in nats, per example unless said otherwise, as tensors on x's device. Example i of a call
draws from its own stream seeded by (seed, i): results do not depend on batching, chunking or threads.

likelihood
    estimate_log_likelihood(model, x, k=5000) -> Tensor (N,)        importance-sampled log p(x), q(z|x) proposal
    log_likelihood(model, x, k, proposal="posterior"|"prior") -> LogLikelihood
        .estimate (N,), .stderr (N,), .ess (N,), .mean_log_weight (N,), .recon (N,), .mean(), .mean_stderr()
        .select(rows) -> LogLikelihood                             those examples only
    naive_log_likelihood(model, x, k) -> LogLikelihood               z drawn from the prior (naive Monte Carlo)
    log_weights(model, x, k, proposal=...) -> Tensor (k, N)          every log w_i, for histograms
    log_likelihood_with_weights(model, x, k, proposal=...) -> (LogLikelihood, Tensor (k, N))   both, one pass
best
    best_estimate(q_star=ll1, encoder=ll2, ...) -> BestEstimate   the larger estimate of each example's log p(x)
        .estimate (N,), .stderr (N,), .chosen (N names), .mean(), .count(name)
diagnostics
    elbo_gap(model, x, k) -> ElboGap                .log_px, .elbo, .recon, .kl, .gap (N,) = KL(q(z|x) || p(z|x))
    ElboGap.of(log_likelihood(...)) -> ElboGap      the same, from an estimate already made
    gradient_variance(model, x, samples, repeats) -> dict[str, GradientVariance]   keys "analytic", "mc"
        .mean_variance / .total_variance / .mean_sq_gradient: dict group ("encoder", "decoder", "all") -> float
    amortization_gap(model, x, steps, lr, samples) -> AmortizationGap
        .elbo_encoder (N,), .elbo_optimised (N,), .gap (N,), .loc, .scale, .curve
    GivenPosterior(model, loc, scale)                 model with q(z|x) = N(loc, scale): log p(x) with q* as proposal
latent_use: which latent dimensions a model uses, two rules (the module docstring says how they differ)
    alive(kl_per_dim) -> list[bool], count_alive(kl_per_dim) -> int   mean KL > ALIVE_KL = 0.01 nats
    active_units(model, x, threshold=0.01) -> ActiveUnits   Var_x E_q[z_d|x] > 0.01 (Burda et al. 2016)
        .variance (D,), .active (D,) bool, .kl_per_dim (D,) or None (an AE), .alive, .count, .collapsed,
        .warning (str | None)
spread
    estimate_bands(log_w (k, R), ks) -> Bands       quantiles and std over R runs of the k-draw estimate, each k
    running_estimates(log_w (k, R), ks) -> (R, len(ks))   log (1/k) sum_{i<=k} w_i per run
report
    compare_estimators(model, x, k, repeats) -> EstimatorComparison  IS vs naive MC at equal k
        .importance, .naive (repeats, N); .importance_spread, .naive_spread, .naive_bias (N,)
    repeat_seed(seed, r) -> int                                        the seed of its run r (to share its draws)
    evaluate(model, x, k=5000, progress=None) -> dict                 the numbers `python -m explorer evaluate` prints
elbo (for the pages: plain floats and CPU arrays)
    bound_terms(model, x (1, C, H, W), samples, seed) -> dict        "recon", "kl", "elbo" of one image, seeded
    posterior_draws(model, x (1, C, H, W), n, seed) -> Tensor (n, D) reparameterised draws from its q(z|x)
    mean_kl_per_dim(Encoding) -> ndarray (D,)                        closed-form KL per dimension, data average
"""
from .best import BestEstimate, best_estimate
from .diagnostics import (AmortizationGap, ElboGap, GivenPosterior, GradientVariance, amortization_gap, elbo_gap,
                          gradient_variance)
from .elbo import bound_terms, mean_kl_per_dim, posterior_draws
from .latent_use import ACTIVE_RULE, ALIVE_KL, ALIVE_RULE, ActiveUnits, active_units, alive, count_alive
from .likelihood import (LogLikelihood, estimate_log_likelihood, log_likelihood, log_likelihood_with_weights,
                         log_weights, naive_log_likelihood)
from .report import EstimatorComparison, compare_estimators, evaluate, repeat_seed
from .spread import Bands, estimate_bands, repeats_for, running_estimates

__all__ = [
    "BestEstimate", "best_estimate", "ACTIVE_RULE", "ALIVE_KL", "ALIVE_RULE", "alive", "count_alive",
    "ActiveUnits", "AmortizationGap", "ElboGap", "GivenPosterior", "GradientVariance", "active_units",
    "amortization_gap", "elbo_gap", "gradient_variance", "LogLikelihood", "estimate_log_likelihood",
    "log_likelihood", "log_likelihood_with_weights", "log_weights", "naive_log_likelihood", "EstimatorComparison",
    "compare_estimators", "evaluate",
    "Bands", "estimate_bands", "repeats_for", "running_estimates", "bound_terms", "mean_kl_per_dim",
    "posterior_draws",
]
