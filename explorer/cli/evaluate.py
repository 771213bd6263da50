"""`evaluate CKPT`: test-set log-likelihood (importance sampling, k samples) with its standard error, ELBO
and its terms, active dimensions and time taken; optionally as JSON and into the checkpoint's metrics."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from ..data.ref import DatasetRef
from ..data.ref import model_unit
from ..data.units import Unit, unit_fields
from ..evaluation import ACTIVE_RULE, ALIVE_RULE, count_alive, evaluate
from ..model.devices import resolve_device
from ..store.checkpoint import load_checkpoint, save_model
from .common import add_device_seed, add_images, apply_threads, check_images_fit, model_with_images, strict_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="test log-likelihood (importance sampling), ELBO, active dimensions",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--k", type=int, default=5000, help="importance samples per test image")
    p.add_argument("--n", type=int, default=None, help="evaluate only the first N test images")
    add_images(p)
    p.add_argument("--data-dir", default=None, help="directory holding the dataset files")
    p.add_argument("--max-rows", type=int, default=None,
                   help="z vectors per decoder call, bounds memory (default: 1024 on CPU, 65536 on a GPU)")
    p.add_argument("--json-out", default=None, help="also write the results as JSON to this file")
    p.add_argument("--update-checkpoint", action="store_true",
                   help="write the results into the checkpoint's metadata['metrics'] (atomic rewrite)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_seed(p)
    p.set_defaults(func=run)


def test_images(model, data_dir: str | None = None, n: int | None = None) -> torch.Tensor:
    """The checkpoint's test split, as the trainer scored it (its DatasetRef: split, pixel rule, seed)."""
    ref = DatasetRef.of(model)
    data = ref.load_test(data_dir, download=True)
    check_images_fit(model, data.test_x, ref.split)  # a checkpoint may name a dataset its model cannot take
    x = ref.scored(data.test_x)  # the whole split's noise first, then the subset
    if n is not None:
        if n < 1:
            raise ValueError(f"--n must be at least 1, got {n}")
        x = x[:n]
    return x


def load_vae_and_test_images(args: argparse.Namespace, needs: str) -> tuple:
    """(model, its test images, device) for args.checkpoint, args.device, args.data_dir and args.n; a clear
    error when the checkpoint is an autoencoder (needs: what it lacks one for). Prints the model's line."""
    device = resolve_device(args.device)
    model = model_with_images(args, device)
    if not model.is_variational:
        raise ValueError(f"{args.checkpoint} is an autoencoder ({model.config.kind}), not a VAE: {needs}")
    x = test_images(model, args.data_dir, args.n).to(device)
    print(model.describe())
    return model, x, device


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    if args.k < 1:
        raise ValueError(f"--k must be at least 1, got {args.k}")
    model, x, device = load_vae_and_test_images(args, "log p(x) needs a VAE")
    print(f"evaluating {len(x)} test images of {model.metadata['dataset']['name']} with k = {args.k} "
          f"importance samples on {device} ({torch.get_num_threads()} threads)", flush=True)
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=len(x), unit="img", file=sys.stderr, dynamic_ncols=True)
    t0 = time.perf_counter()
    try:
        res = evaluate(model, x, args.k, seed=args.seed, max_rows=args.max_rows,
                       progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    res["seconds"] = time.perf_counter() - t0
    unit = model_unit(model)
    res.update(unit_fields(unit), test_bits_per_dim=unit.bits_per_dim(res["test_log_likelihood"], x[0].numel()))
    res.update(device=str(device), threads=torch.get_num_threads(), checkpoint=str(args.checkpoint))
    _check_finite(res)
    _print(res, unit)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(strict_json(res), indent=2))  # strict JSON: NaN (k = 1) -> null
        print(f"results written to {args.json_out}")
    if args.update_checkpoint:
        _update_checkpoint(args.checkpoint, res)
        print(f"metrics written into {args.checkpoint}")
    return 0


_SCORES = ("test_log_likelihood", "test_elbo", "test_recon", "test_kl")  # the stderr is NaN at k = 1, by design


def _check_finite(r: dict) -> None:
    """A ValueError (one line, a non-zero exit) instead of printing `nan ± nan` as if it were a score."""
    bad = [k for k in _SCORES if not math.isfinite(float(r[k]))]
    if bad:
        scores = ", ".join(f"{k} = {r[k]}" for k in bad)
        raise ValueError(f"the model gives non-finite scores on these images ({scores}): its numbers are unusable "
                         "here, so nothing is reported or written")


def _print(r: dict, unit: Unit) -> None:
    print(f"on {unit.scores}; {unit.label}")
    bpd = "" if r["test_bits_per_dim"] is None else f", {r['test_bits_per_dim']:.4f} bits/dim"
    print(f"test log-likelihood  {r['test_log_likelihood']:10.3f} ± {r['test_log_likelihood_stderr']:.3f} "
          "nats per image "
          f"(k = {r['k']}, Monte Carlo standard error; spread over images {r['test_log_likelihood_std']:.2f}{bpd})")
    print(f"ELBO                 {r['test_elbo']:10.3f} nats per image   gap log p(x) - ELBO {r['test_gap']:.3f} "
          "nats per image")
    print(f"  reconstruction     {r['test_recon']:10.3f} nats per image")
    print(f"  KL(q(z|x) || p(z)) {r['test_kl']:10.3f} nats per image")
    print(f"active dimensions    {r['active_units']} / {r['latent_dim']}   ({ACTIVE_RULE})")
    print(f"alive dimensions     {count_alive(r['kl_per_dim'])} / {r['latent_dim']}   ({ALIVE_RULE})")
    if r.get("collapse_warning"):
        print(f"warning: {r['collapse_warning']}")
    print(f"time                 {r['seconds']:.1f} s ({r['n'] / max(r['seconds'], 1e-9):.1f} images/s)")


def _update_checkpoint(path: str, res: dict) -> None:
    """Rewrite the checkpoint with res merged into metadata['metrics'], keeping everything else."""
    ckpt = load_checkpoint(path)  # fresh CPU copy: the evaluated one may live on a GPU
    model, opt_state = ckpt.model, ckpt.optimizer_state
    meta = dict(model.metadata)
    meta.pop("format_version", None)
    metrics = dict(meta.get("metrics") or {})
    for key, value in res.items():
        if key != "checkpoint":
            metrics[key if key.startswith("test_") or key in _PLAIN_KEYS else f"eval_{key}"] = value
    meta["metrics"] = metrics
    save_model(model, path, optimizer=_SavedOptimizer(opt_state) if opt_state is not None else None, **meta)


_PLAIN_KEYS = ("active_units", "latent_dim", "kl_per_dim", "collapse_warning", "unit", "scores")


class _SavedOptimizer:
    """Hands save_model the optimizer state read from the file, unchanged (it only calls state_dict())."""

    def __init__(self, state: dict):
        self.state = state

    def state_dict(self) -> dict:
        return self.state
