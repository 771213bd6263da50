"""`info CKPT`: the model card of a checkpoint."""
from __future__ import annotations

import argparse
import json

from ..data.ref import model_unit
from ..evaluation import ACTIVE_RULE
from ..model.imported import ImportedModel
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
        if isinstance(model, ImportedModel):
            out["imported"] = model.card.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    print(model.describe())
    if isinstance(model, ImportedModel):  # where it came from: what the card says its networks' outputs mean
        c = model.card
        print(f"imported from {c.source}: encoder_output {c.encoder_output}, likelihood {c.likelihood}"
              + (f" (sigma {c.sigma:g})" if c.sigma is not None else "") + f", layout {c.layout}")
    ds, unit = meta.get("dataset") or {}, model_unit(model)
    if ckpt.dataset.name is not None:
        known = "train_size" in ds and "test_size" in ds  # an imported model's card may hold only the name
        sizes = f" ({ds['train_size']} train / {ds['test_size']} test)" if known else ""
        print(f"dataset: {ckpt.dataset.split}{sizes}, {ckpt.dataset.pixels} pixels")
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
