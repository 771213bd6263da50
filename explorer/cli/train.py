"""`train`: fit a model and write a checkpoint (also under torchrun for DistributedDataParallel)."""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ..data import DATASETS, DataNotFound, ImageDataset, bundled_mnist_split, load_dataset
from ..data.folder import image_size
from ..data.pixels import BatchTransform, CHOICES
from ..data.ref import DatasetRef
from ..data.units import unit_of
from ..model.config import ACTIVATIONS, ARCHS, KINDS, LIKELIHOODS, ModelConfig
from ..model.latent_model import build_model
from ..model.imported import check_trainable
from ..store.checkpoint import load_checkpoint, save_model
from ..store.vaex_file import SUFFIX as VAEX
from ..store.outputs import CheckpointTarget, check_writable
from ..train.memory import check_run, data_bytes, memory_budget_mb
from ..train.run_record import run_metadata, summary
from ..train.trainer import TrainConfig, Trainer, TrainingDiverged
from .common import join_process_group, add_device_seed, apply_threads, finite_float, int_list, positive_int
from .resume import DEFAULT_LR, resume_settings, same_pixels

STOPPED = 130  # a run stopped by Ctrl-C exits as a shell reports SIGINT (128 + 2): it did not finish


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE / AE / DAE and write a checkpoint",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="default: mnist; with --resume, the checkpoint's (another is an error)")
    p.add_argument("--data-dir", default=None, help="directory holding the dataset files (or a folder of images)")
    p.add_argument("--image-size", type=int_list, default=None, help="folder dataset: H,W to resize to")
    p.add_argument("--rgb", action="store_true", help="folder dataset: keep colour")
    p.add_argument("--bundled-split", action="store_true",
                   help="mnist offline: train on the first 8,000 images of the bundled test split; the other "
                        "2,000 stay held out as the test set (a resumed checkpoint keeps its split)")
    p.add_argument("--kind", default="vae", choices=KINDS)
    p.add_argument("--arch", default="mlp", choices=ARCHS)
    p.add_argument("--hidden", type=int_list, default=(400,), help="MLP hidden sizes or conv channels, e.g. 200,200")
    p.add_argument("--activation", default="relu", choices=ACTIVATIONS)
    p.add_argument("--latent", type=int, default=2, help="latent dimensions")
    p.add_argument("--likelihood", default="bernoulli", choices=LIKELIHOODS)
    p.add_argument("--sigma", type=float, default=0.1, help="decoder std for --likelihood gaussian")
    p.add_argument("--noise", type=float, default=0.3, help="DAE masking-noise probability")
    p.add_argument("--epochs", type=int, default=10, help="total epochs (with --resume: the new total)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=None,
                   help=f"learning rate (default: {DEFAULT_LR}; with --resume, the checkpoint's)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight (beta-VAE)")
    p.add_argument("--warmup", type=finite_float, default=0.0, help="linear KL warm-up length in epochs")
    p.add_argument("--estimator", default="analytic", choices=["analytic", "mc"],
                   help="analytic = SGVB B (closed-form KL); mc = SGVB A (Monte Carlo KL)")
    p.add_argument("--samples", type=int, default=1, help="z samples per example (L)")
    p.add_argument("--iwae-k", type=int, default=1, help="train on the IWAE bound with k samples")
    p.add_argument("--pixels", default="auto", choices=CHOICES,
                   help="what the likelihood scores: binarized (Bernoulli), dequantized (Gaussian: a bound on the "
                        "log-probability of the image's own grey levels, 256 for 8-bit, 17 for digits), or grey "
                        "levels as they are; auto picks by decoder")
    p.add_argument("--binarize", dest="pixels", choices=["auto", "dynamic", "none"], help=argparse.SUPPRESS)
    p.add_argument("--out", default="model.safetensors", help="checkpoint to write")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (weights, optimizer, history)")
    p.add_argument("--checkpoint-every", type=positive_int, default=1, help="write the checkpoint every N epochs")
    p.add_argument("--metrics-out", default=None, help="write a JSON summary (per-epoch time, samples/s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        join_process_group(args)
    rank = dist.get_rank() if dist.is_initialized() else 0
    try:
        code = _train(args, rank)
        if dist.is_initialized():
            # The ranks leave fit() together, but a rank exiting first (with 1 after a divergence) makes
            # torchrun kill the others: wait here until rank 0 has written the checkpoint.
            dist.barrier()
        return code
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _load_data(args: argparse.Namespace, resumed: DatasetRef | None) -> ImageDataset:
    """The training data; the bundled MNIST split when asked for or when the resumed checkpoint used it."""
    resumed_split = resumed is not None and resumed.test_from > 0
    if args.bundled_split or resumed_split:
        if args.dataset != "mnist":
            why = f"{args.resume} trained on" if resumed_split else "--bundled-split is"
            raise ValueError(f"{why} the bundled MNIST split: use --dataset mnist, not {args.dataset}")
        data = resumed.load_training(args.data_dir) if resumed_split else bundled_mnist_split(args.data_dir)
        data.notes.append("training on the bundled MNIST test split: its first 8,000 images; the other 2,000 "
                          "are the test set (and what evaluate uses)")
        return data
    data_kwargs = {"size": args.image_size, "rgb": args.rgb} if args.dataset == "folder" else {}
    try:
        return load_dataset(args.dataset, args.data_dir, **data_kwargs)
    except DataNotFound as e:
        if args.dataset != "mnist":
            raise
        raise DataNotFound(f"{e}\nOffline, --bundled-split trains on the bundled test split instead "
                           "(8,000 images; the other 2,000 are held out).") from None


def _train(args: argparse.Namespace, rank: int) -> int:
    if args.image_size is not None:
        image_size(args.image_size)  # 100000,100000 is refused here, before any folder is read
    resumed, opt_state = None, None
    if args.resume:
        ckpt = load_checkpoint(args.resume)
        check_trainable(ckpt.model, args.resume)
        resumed, opt_state = ckpt.model, ckpt.optimizer_state
        resume_settings(args, resumed)
        same_pixels(args, ckpt.dataset.pixels, resumed.config.likelihood)
    args.dataset, args.lr = args.dataset or "mnist", DEFAULT_LR if args.lr is None else args.lr
    if str(args.out).endswith(VAEX):  # save_model would refuse it after the last epoch
        raise ValueError(f"--out {args.out}: {VAEX} files hold models trained elsewhere; name a .safetensors file")
    for path, what in ((args.out, "--out"), (args.metrics_out, "--metrics-out")) if rank == 0 else ():
        if path:  # before any work: an unwritable --out found after the last epoch loses the run
            check_writable(path, what=what)
    data = _load_data(args, ckpt.dataset if resumed is not None else None)
    for note in data.notes:
        _say(rank, f"note: {note}")
    history = None
    if resumed is not None:
        model = resumed
        if tuple(data.image_shape) != tuple(model.config.image_shape):
            raise ValueError(f"{args.resume} has images of shape {tuple(model.config.image_shape)}, but "
                             f"{data.name} has {tuple(data.image_shape)}")
        history = model.metadata.get("history")
        ref = DatasetRef.for_training(data, model.pixels, model.config.likelihood, ckpt.dataset.test_seed,
                                      model.levels)
        tc = dict(model.metadata.get("train_config") or {})
        tc.update(epochs=args.epochs, device=args.device, lr=args.lr)
        config = TrainConfig.from_dict(tc)
        if opt_state is not None:
            for g in opt_state["param_groups"]:
                g["lr"] = args.lr
    else:
        mc = ModelConfig(image_shape=data.image_shape, latent_dim=args.latent, kind=args.kind, arch=args.arch,
                         hidden=args.hidden, activation=args.activation, likelihood=args.likelihood,
                         sigma=args.sigma, noise=args.noise)
        ref = DatasetRef.for_training(data, args.pixels, args.likelihood)
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta,
                             warmup_epochs=args.warmup, estimator=args.estimator, samples=args.samples,
                             iwae_k=args.iwae_k, seed=args.seed, device=args.device)
        check_run(mc, config, data_bytes(data), memory_budget_mb(None))  # before a weight is allocated
        torch.manual_seed(args.seed)  # same initial weights for a seed: reproducible, and equal on every rank
        model = build_model(mc, pixels=ref.pixels, levels=ref.levels)
    if rank == 0:  # weights and Adam's two moments, as float32
        check_writable(args.out, need_bytes=12 * model.num_parameters() + 2**20)
    trainer = Trainer(model, data, config, BatchTransform.for_model(model, ref.test_seed), optimizer_state=opt_state,
                      history=history)
    unit = unit_of(ref.pixels, model.config.likelihood, ref.levels)
    _say(rank, f"{model.describe()}\ntraining on {data.name} {tuple(data.image_shape)} "
               f"({len(data.train_x)} images, {ref.pixels} pixels) on {trainer.device}, {config.epochs} epochs\n"
               f"ELBO and terms in {unit.label}")
    return _fit(args, rank, trainer, ref, config)


def _fit(args: argparse.Namespace, rank: int, trainer: Trainer, ref: DatasetRef, config: TrainConfig) -> int:
    """Run the trainer with progress and checkpoints; the exit code (1 diverged, 3 saved elsewhere, 130 stopped)."""
    target = CheckpointTarget(args.out, lambda msg: print(msg, file=sys.stderr, flush=True))

    def save(status: str) -> Path | None:
        if rank != 0:
            return None
        return target.write(lambda path: save_model(
            trainer.model, path, optimizer=trainer.optimizer, **run_metadata(trainer, ref, status)),
            diverged=status == "diverged")

    bar = _progress_bar(args, rank, trainer, config)

    def on_epoch(r: dict) -> None:
        line = (f"epoch {r['epoch']:>4}  train {r['bound_name']} {r['train_bound']:9.3f}  "
                f"test ELBO {_fmt(r['test_elbo'])}  "
                f"recon {_fmt(r['test_recon'])}  KL {_fmt(r['test_kl'])}  {r['samples_per_sec']:8.0f} samples/s  "
                f"{r['wall_time']:.1f}s")
        (bar.write(line) if bar else print(line, flush=True))
        for key in ("train_bound", "test_elbo"):  # finite weights can still score -inf: that is no good state
            if r[key] is not None and not math.isfinite(r[key]):
                what = f"train {r['bound_name']}" if key == "train_bound" else "test ELBO"
                raise TrainingDiverged(f"the {what} became {r[key]} "
                                       f"after epoch {r['epoch']}. Try a lower learning rate.")
        if r["epoch"] % args.checkpoint_every == 0:
            save("training")

    trainer.add_callback("epoch", on_epoch)
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop())  # stop cleanly after this step
    code = 0
    try:
        trainer.fit()
    except TrainingDiverged as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar:
            bar.close()
    written = save(trainer.status)
    if trainer.status == "stopped" and not dist.is_initialized():  # torchrun would print a traceback for 130
        code = STOPPED
    if rank == 0 and trainer.status == "diverged" and written != target.target:
        print(f"the diverged state was written to {written}; {target.target} keeps the last good checkpoint")
    elif rank == 0:
        print(f"{trainer.message}; checkpoint written to {written}"
              + (f" (continue with --resume {written})" if code == STOPPED else ""), flush=True)
    if args.metrics_out and rank == 0:
        Path(args.metrics_out).write_text(json.dumps(summary(trainer), indent=2))
    return code or (3 if target.failed else 0)


def _progress_bar(args: argparse.Namespace, rank: int, trainer: Trainer, config: TrainConfig):
    if rank != 0 or args.quiet:
        return None
    from tqdm import tqdm
    batches = trainer.batches_per_epoch()
    done = trainer.state["epoch"] * batches + trainer.state["batch"]
    bar = tqdm(total=config.epochs * batches, initial=done, unit="step", file=sys.stderr, dynamic_ncols=True)
    trainer.add_callback("step", lambda r: (bar.update(1), bar.set_postfix(
        bound=f"{r['bound']:.1f}", kl=f"{r['kl']:.1f}", beta=f"{r['beta']:.2f}",
        rate=f"{r['samples_per_sec']:.0f}/s", refresh=False)))
    return bar


def _fmt(v: float | None) -> str:
    return "      n/a" if v is None else f"{v:9.3f}"


def _say(rank: int, msg: str) -> None:
    if rank == 0:
        print(msg, flush=True)
