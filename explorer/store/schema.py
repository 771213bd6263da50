"""What each key of a checkpoint's metadata must be, checked once when a file is read.

A checkpoint is input from anyone (an upload, a file copied into trained/), and every page and command
reads these keys: a wrong type is refused here, with one line naming the key, instead of failing later
in many places. Keys not listed here may hold any JSON (nested at most MAX_DEPTH deep).
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Callable

from ..model.config import MAX_LAYERS  # hidden sizes in a config: what can be trained can be opened
from ..train.trainer import TrainConfig

MAX_DEPTH = 16  # our own metadata nests 5 deep (history.state.partial.bin.n)


class SchemaError(ValueError):
    """Metadata that does not fit the schema; the message names the key."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Kind:
    def __init__(self, ok: Callable[[Any], bool], what: str):
        self.ok, self.what = ok, what

    def check(self, v: Any, path: str) -> None:
        if not self.ok(v):
            raise SchemaError(f"{path} must be {self.what}, got {_describe(v)}")


class ListOf:
    what = "a list"

    def __init__(self, item: Any, length: int | None = None, most: int | None = None):
        self.item, self.length, self.most = item, length, most

    def check(self, v: Any, path: str) -> None:
        if not isinstance(v, list):
            raise SchemaError(f"{path} must be a list, got {_describe(v)}")
        if self.length is not None and len(v) != self.length:
            raise SchemaError(f"{path} must have {self.length} entries, got {len(v)}")
        if self.most is not None and len(v) > self.most:
            raise SchemaError(f"{path} may have at most {self.most} entries, got {len(v)}")
        for i, e in enumerate(v):
            self.item.check(e, f"{path}[{i}]")


class Obj:
    """A JSON object; listed keys are checked when present (required ones must be), others pass."""

    what = "an object"

    def __init__(self, keys: dict[str, Any] | None = None, values: Any = None, required: tuple[str, ...] = ()):
        self.keys, self.values, self.required = keys or {}, values, required

    def check(self, v: Any, path: str) -> None:
        if not isinstance(v, dict):
            raise SchemaError(f"{path} must be an object, got {_describe(v)}")
        for k in self.required:
            if k not in v:
                raise SchemaError(f"{path} lacks its {k!r} entry")
        for k, e in v.items():
            spec = self.keys.get(k, self.values)
            if spec is not None:
                spec.check(e, f"{path}.{k}")


class Either:
    def __init__(self, *options: Any, what: str):
        self.options, self.what = options, what

    def check(self, v: Any, path: str) -> None:
        for o in self.options:
            try:
                o.check(v, path)
                return
            except SchemaError:
                pass
        raise SchemaError(f"{path} must be {self.what}, got {_describe(v)}")


class optional:  # noqa: N801 - reads as a type in the tables below
    """null, or what spec says (a mismatch is spec's own message, naming the inner key)."""

    def __init__(self, spec: Any):
        self.spec = spec

    def check(self, v: Any, path: str) -> None:
        if v is not None:
            self.spec.check(v, path)


INT = Kind(_is_int, "a whole number")
COUNT = Kind(lambda v: _is_int(v) and v >= 0, "a whole number, not negative")
NUM = Kind(_is_num, "a number")
FINITE = Kind(lambda v: _is_num(v) and math.isfinite(v), "a finite number")
STR = Kind(lambda v: isinstance(v, str), "a string")
NONE = Kind(lambda v: v is None, "null")
BOOL = Kind(lambda v: isinstance(v, bool), "true or false")
NUMS = ListOf(NUM)
_TYPES = {"int": INT, "float": NUM, "str": STR}

CONFIG = Obj({"image_shape": ListOf(INT, length=3), "latent_dim": INT, "kind": STR, "arch": STR,
              "hidden": ListOf(INT, most=MAX_LAYERS), "activation": STR, "likelihood": STR, "sigma": FINITE,
              "noise": FINITE, "extra": Obj()})
DATASET = Obj({"name": STR, "image_shape": ListOf(INT, length=3), "train_size": COUNT, "test_size": COUNT,
               "classes": ListOf(STR), "test_from": COUNT, "pixels": STR, "test_seed": INT,
               "levels": INT})
TRAIN_CONFIG = Obj({f.name: _TYPES[f.type] for f in fields(TrainConfig)})
STATE = Obj({"epoch": COUNT, "step": COUNT, "batch": COUNT, "wall_time": NUM,
             "partial": Obj({"bin": Obj(values=NUM, required=("recon", "kl", "beta", "n")),  # and "bound" (or older
                             "sums": Obj(values=NUM, required=("recon", "kl", "n")),  # "elbo"): upgrade_history
                             "every": COUNT})})
EPOCH = Obj({"epoch": COUNT, "step": COUNT, "bound_name": STR},
            values=Either(NUM, NONE, NUMS, what="a number, null or numbers"), required=("epoch",))
HISTORY = Obj({"steps": ListOf(Obj({"step": COUNT, "epoch": NUM}, values=NUM, required=("step", "epoch"))),
               "epochs": ListOf(EPOCH), "state": STATE})
METRICS = Obj(values=Either(NUM, NONE, STR, BOOL, NUMS, what="a number, a string, null or numbers"))
OPTIMIZER = Obj({"param_groups": ListOf(Obj()), "state": Obj(values=Obj())}, required=("param_groups", "state"))
METADATA = Obj({"config": CONFIG, "dataset": optional(DATASET), "train_config": optional(TRAIN_CONFIG),
                "history": optional(HISTORY), "status": optional(STR), "metrics": optional(METRICS),
                "optimizer": optional(OPTIMIZER), "format_version": INT}, required=("config",))


def check_metadata(meta: Any) -> None:
    """A SchemaError naming the first key that is not what it must be."""
    depth = nesting_depth(meta)
    if depth > MAX_DEPTH:
        raise SchemaError(f"metadata is nested {depth} levels deep; at most {MAX_DEPTH} are allowed")
    METADATA.check(meta, "metadata")


def nesting_depth(obj: Any) -> int:
    """How deep lists and objects nest (0 for a number); iterative, so no depth can overflow the stack."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def _describe(v: Any) -> str:
    """A short, safe description of a wrong value: its type, and the value itself when it is short."""
    kind = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)
    text = repr(v)
    return f"{kind} ({text})" if len(text) <= 40 and not isinstance(v, (list, dict)) else kind
