"""`info CKPT`: the model card of a checkpoint."""
from __future__ import annotations

import argparse
import json

from ..data.ref import model_unit
from ..evaluation import ACTIVE_RULE
from ..store.checkpoint import load_checkpoint


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a checkpoint's model card (config, dataset, metrics)")
    p.add_argument("checkpoint")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    model, meta = ckpt.model, ckpt.model.metadata
    if args.json:
        out = {k: v for k, v in meta.items() if k != "history"}
        out["config"] = model.config.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    print(model.describe())
    ds, unit = meta.get("dataset") or {}, model_unit(model)
    if ckpt.dataset.name is not None:
        print(f"dataset: {ckpt.dataset.split} ({ds.get('train_size', '?')} train / {ds.get('test_size', '?')} "
              f"test), {ckpt.dataset.pixels} pixels")
    else:
        print(f"dataset: not named by the checkpoint; {ckpt.dataset.pixels} pixels")
    print(f"units: {unit.label} (on {unit.scores})")
    epochs = (meta.get("history") or {}).get("epochs", [])
    if epochs:
        last = epochs[-1]
        print(f"trained: {len(epochs)} epochs, last test ELBO {last.get('test_elbo')} nats per image")
    for k, v in (meta.get("metrics") or {}).items():
        name = "active dimensions (active_units)" if k == "active_units" else k  # "units" is for nats
        print(f"{name}: {v}" + (f"   ({ACTIVE_RULE})" if k == "active_units" else ""))
    return 0
