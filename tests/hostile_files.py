"""Hostile checkpoints, crafted here byte by byte (no fixtures on disk), for the hostile-input battery
(tests/test_hostile*.py). Each case is (name, bytes); a good tiny checkpoint is the starting point."""
from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import torch

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.store.checkpoint import save_model

REPO = Path(__file__).resolve().parents[1]
DIGITS = {"name": "digits", "image_shape": [1, 8, 8], "train_size": 1438, "test_size": 359,
          "classes": [str(i) for i in range(10)]}
PEAKS: dict[str, tuple[int, int]] = {}  # case -> (peak MB, baseline MB), for the battery's summary
TRACK = "![t](http://127.0.0.1:9/track.png)"  # an image that a Markdown renderer would fetch


def good_bytes(tmp: Path, **meta) -> bytes:
    """A tiny, valid 8x8 VAE checkpoint (784 parameters or so) that names the digits dataset."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(8,)))
    meta = {"dataset": DIGITS, "train_config": {"lr": 1e-3, "binarize": "auto"}, "status": "finished",
            "history": {"epochs": [{"epoch": 1, "test_elbo": -40.0}], "steps": [],
                        "state": {"epoch": 1, "step": 45, "batch": 0, "wall_time": 1.0, "partial": {}}},
            "metrics": {"test_elbo": -40.0}, **meta}
    return save_model(model, tmp / "good.safetensors", **meta).read_bytes()


def split(data: bytes) -> tuple[dict, dict, bytes]:
    """(safetensors header, our metadata, tensor bytes)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, json.loads(header["__metadata__"]["explorer"]), data[8 + n:]


def join(header: dict, body: bytes, meta_text: str | None = None, meta: dict | None = None) -> bytes:
    header = dict(header)
    if meta is not None or meta_text is not None:
        header["__metadata__"] = {"explorer": meta_text if meta_text is not None else json.dumps(meta)}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def with_meta(base: bytes, edit) -> bytes:
    header, meta, body = split(base)
    edit(meta)
    return join(header, body, meta=meta)


def poisoned(base: bytes, value: float, key: str = "model.encoder.net.1.weight") -> bytes:
    """base with one weight set to value (NaN, inf)."""
    header, _, body = split(base)
    start = header[key]["data_offsets"][0]
    return join(header, body[:start] + struct.pack("<f", value) + body[start + 4:])


def absurd(base: bytes, value: float = 1e38, alternate: bool = False) -> bytes:
    """base with every weight set to value: each finite, so a NaN check passes them, yet they overflow.
    alternate: +value and -value in turn, so the overflows meet as inf - inf = NaN (the decoder's too)."""
    header, _, body = split(base)
    out = bytearray(body)
    for k, v in header.items():
        if k != "__metadata__" and v["dtype"] == "F32":
            start, end = v["data_offsets"]
            pair = struct.pack("<ff", value, -value if alternate else value)
            out[start:end] = (pair * ((end - start) // 8 + 1))[:end - start]
    return join(header, bytes(out))


def huge_claims(base: bytes) -> list[tuple[str, bytes]]:
    """Tiny files whose config (and maybe header shapes) claim a model of gigabytes."""
    header, meta, body = split(base)

    def cfg(**kw):
        return with_meta(base, lambda m: m["config"].update(kw))

    claimed, at = dict(header), 0  # shapes and offsets that agree with hidden = 10**6, bytes that are not there
    for k, v in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
        if k != "__metadata__":
            shape = [10**6 if s == 8 else s for s in v["shape"]]
            claimed[k] = {**v, "shape": shape, "data_offsets": [at, at + 4 * math.prod(shape)]}
            at += 4 * math.prod(shape)
    big = json.loads(json.dumps(meta))
    big["config"]["hidden"] = [10**6]
    return [("hidden 10**6", cfg(hidden=[10**6])), ("hidden 3*10**6", cfg(hidden=[3 * 10**6])),
            ("hidden 10**300", cfg(hidden=[10**300])), ("latent 10**9", cfg(latent_dim=10**9)),
            ("image 100000x100000", cfg(image_shape=[1, 100000, 100000])),
            ("conv 16 layers on 65536x65536", cfg(arch="conv", hidden=[1] * 16, image_shape=[1, 65536, 65536])),
            ("100000 hidden layers", cfg(hidden=[8] * 100000)),
            ("header shapes claim 10**6, bytes absent", join(claimed, body, meta=big))]


def bad_metadata(base: bytes) -> list[tuple[str, bytes]]:
    """Metadata of the wrong type or shape, each in a place some page or command reads."""
    header, meta, body = split(base)

    def put(path: str, value):
        def edit(m):
            *keys, last = path.split(".")
            for k in keys:
                m = m[k]
            m[last] = value
        return with_meta(base, edit)

    deep = json.dumps(meta)[:-1] + ', "deep": ' + "[" * 200 + "]" * 200 + "}"
    abyss = json.dumps(meta)[:-1] + ', "deep": ' + "[" * 100000 + "]" * 100000 + "}"
    return [("dataset a string", put("dataset", "mnist")), ("dataset.name a number", put("dataset.name", 3)),
            ("dataset.test_from negative", put("dataset.test_from", -1)), ("history a list", put("history", [])),
            ("history.epochs a string", put("history.epochs", "x")),
            ("epoch records numbers", put("history.epochs", [1, 2])),
            ("history.state.epoch a string", put("history.state.epoch", "3")),
            ("history.state.partial.sums short", put("history.state.partial", {"sums": {"n": 1}})),
            ("metrics a list", put("metrics", [1])), ("metric an object", put("metrics", {"a": {"b": 1}})),
            ("train_config.lr a string", put("train_config.lr", "fast")), ("status a number", put("status", 5)),
            ("config.hidden a string", put("config.hidden", "400")),
            ("config.latent_dim 2.5", put("config.latent_dim", 2.5)),
            ("config.sigma infinite", put("config.sigma", float("inf"))), ("config an array", put("config", [1])),
            ("optimizer a string", put("optimizer", "x")), ("format_version a string", put("format_version", "1")),
            ("nested 200 deep", join(header, body, meta_text=deep)),
            ("nested 100000 deep", join(header, body, meta_text=abyss)),
            ("a 5000-digit number", join(header, body, meta_text=json.dumps(meta)[:-1] + ', "n": ' + "9" * 5001 + "}")),
            ("metadata not JSON", join(header, body, meta_text="{not json")),
            ("metadata a list", join(header, body, meta_text="[]"))]


def damaged(base: bytes) -> list[tuple[str, bytes]]:
    header, meta, body = split(base)
    key = "model.encoder.net.1.weight"
    return [("empty", b""), ("random bytes", os.urandom(64)), ("a pickle", b"\x80\x04\x95" + b"\0" * 40),
            ("truncated", base[:len(base) // 2]), ("header length 2**60", struct.pack("<Q", 2**60) + base[8:]),
            ("shape a string", join({**header, key: {**header[key], "shape": "big"}}, body)),
            ("dtype int64", join({**header, key: {**header[key], "dtype": "I64"}}, body)),
            ("NaN weight", poisoned(base, float("nan"))), ("infinite weight", poisoned(base, float("inf"))),
            ("weights of 1e38", absurd(base)),
            ("deep safetensors header", struct.pack("<Q", 200000) + b"[" * 100000 + b"]" * 100000)]


def hostile(tmp: Path) -> list[tuple[str, bytes]]:
    base = good_bytes(tmp)
    return huge_claims(base) + bad_metadata(base) + damaged(base)


def run_measured(code: str, args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak resident memory in MB) of `python -c code args` in a fresh process.

    os.wait4 gives this child's own peak; getrusage(RUSAGE_CHILDREN) would give the largest of all children.
    """
    out, err = cwd / ".stdout", cwd / ".stderr"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(out, "wb") as fo, open(err, "wb") as fe:
        p = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, stdout=fo, stderr=fe, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    return os.waitstatus_to_exitcode(status), out.read_text(), err.read_text(), usage.ru_maxrss // 1024


# Runs `info` on a good file, prints its own peak memory so far (MB), then `info` on each hostile file,
# printing the exit codes; the process's final peak (from wait4) is then that of the hostile files.
MEASURE = """
import contextlib, io, json, resource, sys
from explorer.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["info", sys.argv[1]]) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
for f in sys.argv[2:]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["info", f])
    print(code, json.dumps(err.getvalue()))
"""
