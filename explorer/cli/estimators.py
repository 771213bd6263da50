"""`estimators CKPT`: the estimators of the theory side by side on a few test images: importance sampling
vs naive Monte Carlo for log p(x) at equal k (spread and bias), the variance of the SGVB A and B gradient
estimators at equal samples, and the amortization gap."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data.ref import DatasetRef
from ..data.ref import model_unit
from ..data.units import unit_fields
from ..evaluation import (GivenPosterior, amortization_gap, best_estimate, compare_estimators, gradient_variance,
                          log_likelihood, repeat_seed)
from .common import add_device_seed, add_images, apply_threads, strict_json
from .evaluate import load_vae_and_test_images

GROUPS = ("encoder", "decoder", "all")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("estimators", help="IS vs naive Monte Carlo, SGVB A vs B gradient variance, amortization gap",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=20, help="test images (the first N)")
    p.add_argument("--k", type=int, default=1000, help="samples per estimate of log p(x), for both estimators")
    p.add_argument("--repeats", type=int, default=10, help="independent estimates of log p(x) per image")
    p.add_argument("--grad-repeats", type=int, default=50, help="gradient draws for the variance")
    p.add_argument("--samples", type=int, default=1, help="z draws per example (L) in each gradient")
    p.add_argument("--steps", type=int, default=300, help="Adam steps per image for the amortization gap")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="directory holding the dataset files")
    p.add_argument("--json-out", default=None, help="also write the results as JSON to this file")
    add_device_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    _check(args)
    model, x, device = load_vae_and_test_images(args, "these estimators need its q(z|x)")
    unit = model_unit(model)
    print(f"{len(x)} test images of {DatasetRef.of(model).split} on {device}; log p(x) and bounds in "
          f"{unit.label}", flush=True)
    t0 = time.perf_counter()
    res = {"n": len(x), "k": args.k, "repeats": args.repeats, "grad_repeats": args.grad_repeats,
           "samples": args.samples, "steps": args.steps, "seed": args.seed, **unit_fields(unit)}
    res["log_likelihood"] = _likelihoods(model, x, args)
    if getattr(model, "differentiable", True):
        res["gradient_variance"] = _gradient_variance(model, x, args)
        res["amortization"] = _amortization(model, x, args)
    else:  # an ONNX model: its log p(x) estimates stand, the two parts that need gradients are left out
        print("\ngradient variance and amortization gap: not computed (they need gradients through the model, "
              "and onnxruntime, which runs this model's networks, gives none)")
    res["seconds"] = time.perf_counter() - t0
    print(f"time {res['seconds']:.1f} s")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(strict_json(res), indent=2))
        print(f"results written to {args.json_out}")
    return 0


def _check(args: argparse.Namespace) -> None:
    for name in ("n", "k", "samples", "steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("repeats", "grad_repeats"):
        if getattr(args, name) < 2:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 2 (a spread needs two draws)")


def _likelihoods(model, x, args: argparse.Namespace) -> dict:
    """Importance sampling vs naive Monte Carlo at equal k, repeated: their estimates, spreads and errors."""
    cmp = compare_estimators(model, x, args.k, repeats=args.repeats, seed=args.seed)
    ll = {name: {"estimate": est.mean().item(), "spread": est.std(0).mean().item(), "stderr": se.mean().item()}
          for name, est, se in (("importance", cmp.importance, cmp.importance_stderr),
                                ("naive", cmp.naive, cmp.naive_stderr))}
    ll["naive_bias"] = cmp.naive_bias.mean().item()
    print(f"\nlog p(x), k = {args.k} samples, {args.repeats} independent estimates per image (means over images):")
    print(f"  {'':32s}{'estimate':>10s}{'spread':>10s}{'stderr':>10s}")
    for name, label in (("importance", "importance sampling, z ~ q(z|x)"), ("naive", "naive Monte Carlo, z ~ p(z)")):
        r = ll[name]
        print(f"  {label:32s}{r['estimate']:10.2f}{r['spread']:10.3f}{r['stderr']:10.3f}")
    print(f"  naive minus importance sampling: {ll['naive_bias']:.2f} nats (spread: std over the repeats; "
          "stderr: what each run reports)")
    return ll


def _gradient_variance(model, x, args: argparse.Namespace) -> dict:
    """Variance of the SGVB A and B gradients over draws of eps, per parameter group, and their ratio."""
    gv = gradient_variance(model, x, samples=args.samples, repeats=args.grad_repeats, seed=args.seed)
    res = {est: {"mean_variance": g.mean_variance, "mean_sq_gradient": g.mean_sq_gradient} for est, g in gv.items()}
    print(f"\ngradient of the loss on these {len(x)} images, variance over {args.grad_repeats} draws of eps "
          f"(L = {args.samples}), mean over parameters:")
    print(f"  {'':32s}" + "".join(f"{g:>12s}" for g in GROUPS))
    for est, label in (("analytic", "SGVB B, KL in closed form"), ("mc", "SGVB A, KL by Monte Carlo")):
        print(f"  {label:32s}" + "".join(f"{gv[est].mean_variance.get(g, float('nan')):12.3e}" for g in GROUPS))
    ratio = {g: _ratio(gv["mc"].mean_variance.get(g), gv["analytic"].mean_variance.get(g)) for g in GROUPS}
    res["ratio_mc_to_analytic"] = ratio
    print(f"  {'ratio A / B':32s}" + "".join(f"{ratio[g]:12.2f}" for g in GROUPS))
    return res


def _amortization(model, x, args: argparse.Namespace) -> dict:
    """The amortization gap, and log p(x) from the better of two proposals: the encoder's q and q*."""
    am = amortization_gap(model, x, steps=args.steps, seed=args.seed)
    a = {"elbo_encoder": am.elbo_encoder.mean().item(), "elbo_optimised": am.elbo_optimised.mean().item(),
         "gap": am.gap.mean().item()}
    print(f"\namortization gap ({args.steps} Adam steps on each image's own mu, sigma): ELBO with the encoder's q "
          f"{a['elbo_encoder']:.2f}, optimised {a['elbo_optimised']:.2f}, gap {a['gap']:.3f} nats")
    # The optimised q* is also a proposal for log p(x), often a better one than the encoder's q. The
    # encoder's estimate uses the same draws as the first run of the comparison above (same seed).
    star = log_likelihood(GivenPosterior(model, am.loc, am.scale), x, args.k, seed=args.seed)
    encoder = encoder_estimate(model, x, args.k, args.seed)
    best = best_estimate(q_star=star, encoder=encoder)
    a.update(log_likelihood_q_star=star.mean(), log_likelihood_encoder=encoder.mean(),
             log_likelihood_best=best.mean(), best_from_q_star=best.count("q_star"))
    print(f"  log p(x) importance-sampled with q* as the proposal, k = {args.k}: {a['log_likelihood_q_star']:.2f} "
          f"(with the encoder's q: {a['log_likelihood_encoder']:.2f})")
    print(f"  log p(x), the larger of the two for each image: {a['log_likelihood_best']:.2f} (q* for "
          f"{a['best_from_q_star']} of {len(x)} images; both are low in expectation, so the larger is the tighter)")
    if a["log_likelihood_encoder"] < a["elbo_optimised"]:
        print(f"  note: the estimate with the encoder's q lies below the optimised ELBO, which is a lower bound on "
              f"log p(x): at k = {args.k} the encoder's q is a poor proposal for these images, and its estimate is "
              "biased low; the choice above takes the larger.")
    return a


def encoder_estimate(model, x, k: int, seed: int):
    """log p(x) with the encoder's q as proposal, on the draws of compare_estimators' first run (its seed)."""
    return log_likelihood(model, x, k, seed=repeat_seed(seed, 0))


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b else float("nan")
