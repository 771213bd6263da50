"""Hostile and faulty conditions around `train`: a diverging resume keeps the last good checkpoint, an
unwritable --out is found before the first epoch, a save that fails late is rescued to a named file, a
resume keeps its dataset and learning rate, Ctrl-C exits non-zero, a killed save leaves no litter for long,
and an absurd --image-size is refused (issue 10, items 4, 5, 6, 11)."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import safetensors.torch

from explorer.cli import main
from explorer.store.checkpoint import CheckpointError, load_model, read_metadata, save_model
from hostile_files import REPO

TINY = ["--dataset", "digits", "--hidden", "8", "--quiet", "--threads", "1"]


def one_line_error(capsys: pytest.CaptureFixture, code: int) -> str:
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits VAE after 1 epoch at lr 0.005 (not the default, so a resume can be seen to keep it)."""
    path = tmp_path_factory.mktemp("train") / "g.safetensors"
    assert main(["train", *TINY, "--epochs", "1", "--lr", "0.005", "--out", str(path)]) == 0
    return path


def test_a_diverging_resume_keeps_the_last_good_checkpoint(good: Path, tmp_path: Path, capsys) -> None:
    g = tmp_path / "g.safetensors"
    g.write_bytes(good.read_bytes())
    code = main(["train", "--resume", str(g), "--out", str(g), "--lr", "1000", "--epochs", "4", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and "training diverged" in err and "Traceback" not in err
    assert g.read_bytes() == good.read_bytes()  # the good file, byte for byte
    beside = tmp_path / "g.diverged.safetensors"
    assert f"written to {beside}; {g} keeps the last good checkpoint" in out
    assert read_metadata(beside)["status"] == "diverged"
    weights = safetensors.torch.load_file(beside)  # finite, each one; what they give may overflow (issue 25),
    assert all(bool(t.isfinite().all()) for t in weights.values())  # so loading may refuse the file, in one line
    try:
        load_model(beside)
    except CheckpointError as e:
        assert "the model's numbers are unusable" in str(e) and "\n" not in str(e)


@pytest.mark.parametrize("where", ["a directory", "under a file", "read-only", "a full disk"])
def test_an_unwritable_out_is_refused_before_the_first_epoch(where: str, tmp_path: Path, capsys, monkeypatch) -> None:
    if where == "a full disk":
        import explorer.store.outputs

        monkeypatch.setattr(explorer.store.outputs.shutil, "disk_usage", lambda p: SimpleNamespace(free=4096))
        out = tmp_path / "m.safetensors"
    elif where == "a directory":
        out = tmp_path
    elif where == "under a file":
        (tmp_path / "notes.txt").write_text("x")
        out = tmp_path / "notes.txt" / "m.safetensors"
    elif os.geteuid() == 0:  # root writes anywhere it may chmod; sysfs takes no new files even from root
        out = Path("/sys/m.safetensors")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        out = tmp_path / "ro" / "m.safetensors"
    err = one_line_error(capsys, main(["train", *TINY, "--epochs", "50", "--out", str(out)]))
    reasons = ("directory", "file, not a folder", "not writable", "0.0 MB free")
    assert str(out) in err and any(r in err for r in reasons), err
    assert "epoch" not in capsys.readouterr().out  # nothing was trained


def test_a_save_that_fails_late_is_rescued_to_a_named_file(tmp_path: Path, capsys, monkeypatch) -> None:
    import explorer.cli.train as train_cli

    out = tmp_path / "full" / "m.safetensors"

    def disk_full(model, path, **kw):  # a disk that fills up during training
        if Path(path) == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_model(model, path, **kw)

    monkeypatch.setattr(train_cli, "save_model", disk_full)
    monkeypatch.chdir(tmp_path)
    code = main(["train", *TINY, "--epochs", "2", "--out", str(out)])
    out_text, err = capsys.readouterr()
    assert code == 3 and "Traceback" not in err
    rescued = sorted(tmp_path.glob("m.rescued-*.safetensors"))
    assert len(rescued) == 1 and f"cannot write {out}: No space left on device" in err
    assert f"the checkpoint was saved to {rescued[0]} instead" in err and err.count("saved to") == 1  # said once
    assert f"checkpoint written to {rescued[0]}" in out_text
    assert load_model(rescued[0]).metadata["status"] == "finished"  # both epochs, the run is not lost


def test_a_resume_keeps_its_dataset_and_learning_rate(good: Path, tmp_path: Path, capsys) -> None:
    err = one_line_error(capsys, main(["train", "--resume", str(good), "--dataset", "mnist", "--out",
                                       str(tmp_path / "x.safetensors")]))
    assert "trained on digits, but --dataset says mnist" in err
    out = tmp_path / "r.safetensors"
    assert main(["train", "--resume", str(good), "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    meta = read_metadata(out)
    assert meta["dataset"]["name"] == "digits" and meta["train_config"]["lr"] == 0.005
    assert "training on digits" in capsys.readouterr().out


def test_ctrl_c_stops_with_a_checkpoint_and_a_non_zero_exit(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "explorer", "train", *TINY, "--epochs", "100000", "--out", "c.safetensors"]
    p = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:  # wait for the first finished epoch: by then the Ctrl-C handler is in place
        if line.startswith("epoch"):
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err, err
    assert "checkpoint written to c.safetensors (continue with --resume c.safetensors)" in out
    assert read_metadata(tmp_path / "c.safetensors")["status"] == "stopped"


KILLED_MID_SAVE = """
import os, sys, time
import explorer.store.checkpoint as ck
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
ck.os.replace = lambda *a: (print("written", flush=True), time.sleep(600))  # dies before the rename
ck.save_model(build_model(ModelConfig(image_shape=(1, 8, 8), hidden=(8,))), sys.argv[1])
"""


def test_a_save_killed_midway_leaves_the_old_file_and_its_litter_goes_next_time(good: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(good.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-c", KILLED_MID_SAVE, str(path)], env=env, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "written\n"
    p.kill()
    p.wait()
    (orphan,) = tmp_path.glob(".m.safetensors.*.tmp")
    assert path.read_bytes() == good.read_bytes()  # the old checkpoint is whole
    live = tmp_path / f".m.safetensors.pid{os.getpid()}-abc.tmp"  # a save in progress in a live process
    live.write_bytes(b"")
    save_model(load_model(path), path)
    assert not orphan.exists() and live.exists() and len(list(tmp_path.glob("*.tmp"))) == 1


@pytest.mark.parametrize("size", ["100000,100000", "0,28", "513"])
def test_an_absurd_image_size_is_refused(size: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "pics").mkdir()
    err = one_line_error(capsys, main(["train", "--dataset", "folder", "--data-dir", str(tmp_path / "pics"),
                                       "--image-size", size, "--out", str(tmp_path / "m.safetensors")]))
    assert "positive" in err or "between 1 and 512" in err
