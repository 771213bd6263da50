"""Hostile checkpoints through every CLI command: each is refused with one line on stderr and a non-zero
exit, never a traceback; a tiny file that claims a huge model costs no more memory than a good one; and no
command changes the file it was given (issue 10, items 1-3 and 11)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.store.checkpoint import CheckpointError, load_checkpoint_bytes, read_metadata
from hostile_files import (DIGITS, MEASURE, PEAKS, good_bytes, huge_claims, hostile, join, run_measured, split,
                           with_meta)

COMMANDS = {
    "info": lambda f, d: ["info", f],
    "info --json": lambda f, d: ["info", f, "--json"],
    "evaluate": lambda f, d: ["evaluate", f, "--k", "2", "--n", "4", "--quiet", "--device", "cpu"],
    "sample": lambda f, d: ["sample", f, "--n", "4", "--out", str(d / "s.png"), "--device", "cpu"],
    "interpolate": lambda f, d: ["interpolate", f, "--a", "0", "--b", "1", "--steps", "2", "--out", str(d / "i.png")],
    "train --resume": lambda f, d: ["train", "--resume", f, "--epochs", "2", "--out", f, "--quiet"],
    "estimators": lambda f, d: ["estimators", f, "--n", "2", "--device", "cpu"],
    "export-html": lambda f, d: ["export-html", f, "--n", "4", "--out", str(d / "m.html")],
    "encode": lambda f, d: ["encode", f, "--n", "4", "--quiet", "--out", str(d / "c.npz")],
}


def refused(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run argv in this process; assert a non-zero exit and one clean line on stderr; return that line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0, (argv, err)
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, (argv, err)
    return err


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bytes]]:
    d = tmp_path_factory.mktemp("hostile")
    out = []
    for i, (name, data) in enumerate(hostile(d)):
        path = d / f"case{i}.safetensors"
        path.write_bytes(data)
        out.append((name, path, data))
    return out


def test_every_hostile_checkpoint_is_refused_by_every_command(cases, tmp_path: Path, capsys) -> None:
    tried = 0
    for name, path, data in cases:
        for command, argv in COMMANDS.items():
            err = refused(capsys, argv(str(path), tmp_path))
            assert str(path) in err or command == "estimators", (name, command, err)
            tried += 1
        assert path.read_bytes() == data, f"{name}: a command changed the file"  # no file lost or rewritten
    assert tried == len(cases) * len(COMMANDS) and len(cases) >= 40


def test_the_app_loading_path_refuses_them_too(cases) -> None:
    # The sidebar's upload and the trained/ listing call these two; a CheckpointError is their one message.
    for name, path, data in cases:
        with pytest.raises(CheckpointError):
            load_checkpoint_bytes(data, name="upload")
        if name not in ("NaN weight", "infinite weight", "weights of 1e38"):  # weights: checked at load, not listed
            with pytest.raises(CheckpointError):
                read_metadata(path)


def test_the_good_file_they_came_from_works(tmp_path: Path, capsys) -> None:
    # The refusals above mean something: the same commands accept the untouched checkpoint.
    path = tmp_path / "good.safetensors"
    path.write_bytes(good_bytes(tmp_path))
    for command in ("info", "sample", "interpolate", "evaluate"):
        assert main(COMMANDS[command](str(path), tmp_path)) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_a_config_that_disagrees_with_the_tensors_says_by_how_much(tmp_path: Path) -> None:
    data = dict(huge_claims(good_bytes(tmp_path)))["hidden 10**6"]
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_bytes(data, name="tiny")
    # 8x8 images, hidden 10**6, latent 2: 64e6 + 1e6 + 4e6 + 4 + 2e6 + 1e6 + 64e6 + 64 parameters
    assert "describes 136,000,068 parameters, the file stores 1,156" in str(e.value)


def test_a_tiny_file_claiming_a_huge_model_costs_no_more_memory_than_a_good_one(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    good.write_bytes(good_bytes(tmp_path))
    names = ("hidden 10**6", "hidden 3*10**6", "hidden 10**300", "header shapes claim 10**6, bytes absent")
    files = []
    for i, name in enumerate(names):
        files.append(tmp_path / f"huge{i}.safetensors")
        files[-1].write_bytes(dict(huge_claims(good.read_bytes()))[name])
    code, out, err, peak = run_measured(MEASURE, [str(good)] + [str(f) for f in files], tmp_path)
    assert code == 0, err
    baseline, *lines = out.splitlines()
    results = [(int(r.split(" ", 1)[0]), json.loads(r.split(" ", 1)[1])) for r in lines]
    assert len(results) == len(names), results
    for code, err in results:
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "file is truncated" in results[-1][1]  # the header's sizes are checked against the file's
    # hidden = 10**6 needs 136 million float32 weights (544 MB), 3 * 10**6 1.6 GB, 10**300 any amount
    PEAKS["huge model claims"] = (peak, int(baseline))
    assert peak < int(baseline) + 64, f"peak {peak} MB against {baseline} MB after the good file"


def test_metadata_errors_name_the_key(tmp_path: Path) -> None:
    base = good_bytes(tmp_path)
    for edit, words in [(lambda m: m.update(dataset="mnist"), "dataset must be an object, got a string ('mnist')"),
                        (lambda m: m["dataset"].update(name=3), "dataset.name must be a string, got a number (3)"),
                        (lambda m: m["history"]["state"].update(epoch="3"), "history.state.epoch must be"),
                        (lambda m: m["metrics"].update(x={"a": 1}), "metrics.x must be a number, a string")]:
        with pytest.raises(CheckpointError) as e:
            load_checkpoint_bytes(with_meta(base, edit), name="f")
        assert words in str(e.value), str(e.value)


def test_evaluate_checks_the_datasets_image_shape_against_the_model(tmp_path: Path, capsys) -> None:
    # A consistent 28x28 model whose metadata names the 8x8 digits: a matmul error before, a message now.
    from explorer.store.checkpoint import save_model
    from explorer.model.config import ModelConfig
    from explorer.model.latent_model import build_model

    path = save_model(build_model(ModelConfig(hidden=(4,))), tmp_path / "m.safetensors", dataset=DIGITS)
    err = refused(capsys, COMMANDS["evaluate"](str(path), tmp_path))
    assert "has images of shape (1, 8, 8), but the model expects (1, 28, 28)" in err


def test_the_header_is_read_without_the_tensors(tmp_path: Path) -> None:
    header, meta, body = split(good_bytes(tmp_path))
    assert meta["dataset"]["name"] == "digits" and len(body) > 0 and "model.encoder.net.1.weight" in header


def test_a_header_whose_length_starts_like_a_pickle_still_loads(tmp_path: Path) -> None:
    # A 1152-byte header is 0x480: its length field starts b"\x80\x04", a pickle's protocol-4 opening. Such
    # good files were refused as pickles.
    from explorer.store.checkpoint import load_model

    header, meta, body = split(good_bytes(tmp_path))
    for pad in range(2000):
        data = join(header, body, meta={"format_version": 1, "config": meta["config"], "pad": "x" * pad})
        if data[:2] == b"\x80\x04":
            break
    (tmp_path / "p.safetensors").write_bytes(data)
    assert data[:2] == b"\x80\x04" and load_model(tmp_path / "p.safetensors").metadata["pad"]
    assert read_metadata(tmp_path / "p.safetensors")["config"]["hidden"] == [8]
