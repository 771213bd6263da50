"""Checkpoints: exact round trips, clear refusals of bad files, no unpickling, atomic writes."""
from __future__ import annotations

import builtins
import io
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import explorer.store.checkpoint as ckpt
from explorer import (CheckpointError, DeviceError, ModelConfig, build_model, load_checkpoint, load_model,
                      read_metadata, save_model)
from explorer.store.checkpoint import FORMAT_VERSION, load_checkpoint_bytes


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def small_model(seed: int = 0, **kw):
    torch.manual_seed(seed)
    cfg = dict(image_shape=(1, 8, 8), latent_dim=3, hidden=(16,))
    cfg.update(kw)
    return build_model(ModelConfig(**cfg))


METADATA = {"dataset": {"name": "digits", "train_size": 10}, "history": {"epochs": [{"epoch": 1, "test_elbo": -12.5}],
            "steps": [], "state": {"epoch": 1, "step": 3}}, "status": "finished", "metrics": {"nan": None},
            "notes": ["a", "ü"], "lr": 1e-3}


def adam_steps(model, opt, n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.rand(16, 1, 8, 8, generator=g)
        # a deterministic loss (the mean, not a sample), so two copies take identical steps
        loss = -model.decode(model.encode(x).mean).log_prob(x).mean() + model.encode(x).variance.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def rewrite_metadata(path: Path, edit) -> None:
    """Change the JSON metadata of a checkpoint in place, keeping its tensors byte for byte."""
    data = path.read_bytes()
    tensors = st_load(data)
    meta = read_metadata(path)
    edit(meta)
    path.write_bytes(st_save(tensors, metadata={"explorer": json.dumps(meta)}))


# -- round trip --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(arch="conv", hidden=(4, 8), likelihood="gaussian_learned"),
                                dict(kind="dae", likelihood="gaussian", sigma=0.2, noise=0.1)])
def test_round_trip_is_exact(tmp_path: Path, kw: dict) -> None:
    model = small_model(**kw)
    path = save_model(model, tmp_path / "m.safetensors", **METADATA)
    loaded = load_model(path)
    assert loaded.config == model.config
    assert not loaded.training
    assert all(t.device.type == "cpu" for t in loaded.state_dict().values())
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    # the data record gains its pixel rule (the old one, from a file that did not name it) and its seed
    pixels = "binarized" if model.config.likelihood == "bernoulli" else "grey"
    dataset = {**METADATA["dataset"], "pixels": pixels, "test_seed": 1234}
    assert loaded.metadata == {**METADATA, "dataset": dataset, "format_version": FORMAT_VERSION}
    assert read_metadata(path) == {**METADATA, "format_version": FORMAT_VERSION, "config": model.config.to_dict()}
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(loaded.encode(x).mean, model.encode(x).mean)
    assert load_model(path, device="cpu").config == model.config
    # the bytes in memory (an upload in the app) load the same way
    ck = load_checkpoint_bytes(path.read_bytes(), name="upload")
    m2, opt = ck.model, ck.optimizer_state
    assert opt is None and torch.equal(m2.decode_mean(torch.zeros(1, 3)), loaded.decode_mean(torch.zeros(1, 3)))


def test_resumed_adam_continues_identically(tmp_path: Path) -> None:
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    adam_steps(model, opt, 3, seed=1)
    save_model(model, tmp_path / "m.safetensors", optimizer=opt, status="training")
    ck = load_checkpoint(tmp_path / "m.safetensors")
    loaded, opt_state = ck.model, ck.optimizer_state
    assert opt_state is not None and "optimizer" not in loaded.metadata
    loaded.train()
    opt2 = torch.optim.Adam(loaded.parameters(), lr=1e-2)
    opt2.load_state_dict(opt_state)
    for st1, st2 in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
        assert all(torch.equal(st1[k], st2[k]) for k in st1)
    adam_steps(model, opt, 4, seed=2)
    adam_steps(loaded, opt2, 4, seed=2)
    for (k, v), v2 in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(v, v2), k


def test_metadata_rules(tmp_path: Path) -> None:
    model = small_model()
    with pytest.raises(TypeError, match="reserved"):
        save_model(model, tmp_path / "m.safetensors", config={"latent_dim": 9})
    with pytest.raises(TypeError, match="JSON"):
        save_model(model, tmp_path / "m.safetensors", history=torch.zeros(2))
    assert not list(tmp_path.iterdir())
    # A stale format_version handed back in (save_model(m, p, **m.metadata)) is replaced by ours.
    save_model(model, tmp_path / "m.safetensors", format_version=0, status="x")
    assert read_metadata(tmp_path / "m.safetensors")["format_version"] == FORMAT_VERSION


def test_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_model(small_model(), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    path.chmod(0o600)
    save_model(small_model(), path)
    assert path.stat().st_mode & 0o777 == 0o600  # overwriting keeps the old mode


# -- refusals ----------------------------------------------------------------------------------------
def expect_error(path: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    msg = str(info.value)
    assert str(path) in msg
    msg = msg.replace(str(path), "<path>")  # the test's tmp_path may itself contain the words
    for w in words:
        assert w in msg, msg
    return msg


def test_pickle_files_are_refused(tmp_path: Path) -> None:
    model = small_model()
    zip_file, legacy = tmp_path / "model.pt", tmp_path / "legacy.pt"
    torch.save(model.state_dict(), zip_file)
    torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
    for p in (zip_file, legacy):
        expect_error(p, "pickle")
        with pytest.raises(CheckpointError, match="pickle"):
            read_metadata(p)


class Payload:
    """Unpickling this calls open(marker, "w"): a stand-in for code an attacker would run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


@pytest.mark.parametrize("protocol", [0, 2, 5, "torch"])
def test_loading_never_unpickles(tmp_path: Path, protocol) -> None:
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(proof), protocol=2)).close()
    assert proof.exists()  # the payload does work when unpickled

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    if protocol == "torch":
        torch.save({"model": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Payload(marker), protocol=protocol))
    for load in (load_model, load_checkpoint, read_metadata, lambda p: load_checkpoint_bytes(p.read_bytes())):
        with pytest.raises(CheckpointError):
            load(path)
    assert not marker.exists()


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    path = save_model(small_model(), tmp_path / "m.safetensors", **METADATA)
    data = path.read_bytes()
    n_header = int.from_bytes(data[:8], "little")
    for cut, words in [(0, ("truncated",)), (5, ("truncated",)), (8 + n_header // 2, ("truncated",)),
                       (8 + n_header + 10, ("truncated",)), (len(data) - 1, ("truncated",))]:
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        expect_error(bad, *words)


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    for i in range(20):
        bad = tmp_path / f"noise{i}.safetensors"
        bad.write_bytes(torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).numpy().tobytes())
        msg = expect_error(bad)
        assert "pickle" not in msg
    # small header length but no JSON behind it
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes((16).to_bytes(8, "little") + b"\xff" * 40)
    expect_error(bad, "not a VAE Explorer checkpoint")


def test_foreign_safetensors_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    path.write_bytes(st_save({"w": torch.zeros(3)}))
    expect_error(path, "not a VAE Explorer checkpoint")
    path.write_bytes(st_save({"w": torch.zeros(3)}, metadata={"explorer": "[1, 2]"}))
    expect_error(path, "not a JSON object")


def test_missing_and_empty_files(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.safetensors", "no such checkpoint")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        read_metadata(tmp_path / "nope.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    expect_error(tmp_path / "empty.safetensors", "truncated or empty")


def test_tensors_that_do_not_match_the_config_are_refused(tmp_path: Path) -> None:
    path = save_model(small_model(), tmp_path / "m.safetensors")
    rewrite_metadata(path, lambda m: m["config"].update(latent_dim=5))
    msg = expect_error(path, "do not match the model config", "shape mismatch")
    assert "encoder" in msg  # names the tensor
    path = save_model(small_model(), tmp_path / "m2.safetensors")
    rewrite_metadata(path, lambda m: m["config"].update(arch="conv", hidden=[4]))
    expect_error(path, "do not match the model config", "missing", "unexpected")


@pytest.mark.parametrize("edit, words", [
    (lambda m: m["config"].update(kind="gan"), ("invalid model config", "kind")),
    (lambda m: m["config"].update(depth=3), ("invalid model config", "depth")),
    (lambda m: m.pop("config"), ("invalid model config",)),
    (lambda m: m["config"].update(arch="conv", hidden=[4, 4, 4, 4]), ("invalid model config", "too small")),
])
def test_invalid_configs_are_refused(tmp_path: Path, edit, words) -> None:
    path = save_model(small_model(), tmp_path / "m.safetensors")
    rewrite_metadata(path, edit)
    expect_error(path, *words)


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_wrong_format_version_is_refused(tmp_path: Path, version) -> None:
    path = save_model(small_model(), tmp_path / "m.safetensors")
    rewrite_metadata(path, lambda m: m.update(format_version=version))
    expect_error(path, f"format version {version!r}", f"reads {FORMAT_VERSION}")
    with pytest.raises(CheckpointError, match="format version"):
        read_metadata(path)


def test_damaged_optimizer_state_is_refused(tmp_path: Path) -> None:
    model = small_model()
    opt = torch.optim.Adam(model.parameters())
    adam_steps(model, opt, 1, seed=0)
    path = save_model(model, tmp_path / "m.safetensors", optimizer=opt)
    tensors = st_load(path.read_bytes())
    meta = read_metadata(path)
    tensors["optim.0.exp_avg"] = torch.zeros(2, 2)
    path.write_bytes(st_save(tensors, metadata={"explorer": json.dumps(meta)}))
    expect_error(path, "damaged optimizer state", "exp_avg")
    del tensors["optim.0.exp_avg"]
    path.write_bytes(st_save(tensors, metadata={"explorer": json.dumps(meta)}))
    expect_error(path, "damaged optimizer state")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_loading_onto_a_missing_device_says_so(tmp_path: Path) -> None:
    path = save_model(small_model(), tmp_path / "m.safetensors")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        load_model(path, device="cuda")


# -- atomic writes -----------------------------------------------------------------------------------
def crash(*_a, **_k):
    raise OSError("simulated crash")


class HalfWriter(io.FileIO):
    """A file whose write() stores half of the data and then fails, like a full disk."""

    def write(self, b):
        super().write(bytes(b)[:len(b) // 2])
        raise OSError("No space left on device")


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_a_crash_mid_save_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch, where: str) -> None:
    path = save_model(small_model(seed=0), tmp_path / "m.safetensors", status="first")
    before = path.read_bytes()
    if where == "replace":
        monkeypatch.setattr(ckpt.os, "replace", crash)
    elif where == "fsync":
        monkeypatch.setattr(ckpt.os, "fsync", crash)
    else:
        monkeypatch.setattr(ckpt.os, "fdopen", lambda fd, mode: HalfWriter(fd, "wb"))
    with pytest.raises(OSError):
        save_model(small_model(seed=1), path, status="second")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left behind
    assert load_model(path).metadata["status"] == "first"


def test_save_creates_parent_directories(tmp_path: Path) -> None:
    path = save_model(small_model(), tmp_path / "a" / "b" / "m.safetensors")
    assert load_model(path).config == small_model().config
