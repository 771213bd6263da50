"""`encode CKPT --out codes.npz`: the file holds what the model's encoder gives for the images DatasetRef names
(test, train or both), is read back only for its own model, comes from the cache the second time, and every bad
input is one line with exit code 2. The 2-process run is in test_distributed.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import DatasetRef, load_model
from explorer.cli import main
from explorer.data.pixels import scored_pixels
from explorer.data.registry import load_dataset
from explorer.data.splits import train_seed
from explorer.model.encoding import encode
from explorer.store import map_cache
from explorer.store.codes_file import CodesError, read_codes

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "trained" / "digits_vae2.safetensors"
MNIST = REPO / "trained" / "mnist_vae2.safetensors"
VAEX = REPO / "trained" / "pytorch_examples_vae.vaex"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """An empty file cache and memory for each test, so a test reads only what it wrote."""
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(map_cache, "_memory", type(map_cache._memory)())


def test_both_splits_hold_the_encoders_output_for_the_scored_images(tmp_path):
    out = tmp_path / "codes.npz"
    assert main(["encode", str(DIGITS), "--split", "both", "--chunk", "97", "--out", str(out), "--quiet"]) == 0
    codes = read_codes(out, DIGITS)
    model = load_model(DIGITS).eval()
    ref = DatasetRef.of(model)
    data = load_dataset("digits")
    n_test, n_train = len(data.test_x), len(data.train_x)
    assert len(codes.mean) == n_test + n_train
    assert codes.from_train.tolist() == [False] * n_test + [True] * n_train  # the test split first
    assert codes.indices.tolist() == list(range(n_test)) + list(range(n_train))
    assert codes.labels.tolist() == data.test_y.tolist() + data.train_y.tolist()
    test = encode(model, ref.scored(data.test_x))
    train = encode(model, scored_pixels(data.train_x, ref.pixels, train_seed(ref), ref.levels))
    np.testing.assert_allclose(codes.mean, np.concatenate([test.mean, train.mean]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(codes.std, np.concatenate([test.std, train.std]), rtol=0, atol=1e-5)
    m = codes.meta
    assert (m["split"], m["dataset"], m["pixels"], m["n"], m["latent_dim"]) == ("both", "digits", ref.pixels,
                                                                                n_test + n_train, 2)
    assert m["test_seed"] == ref.test_seed and m["train_seed"] != ref.test_seed


def test_a_second_run_reads_memory_then_the_file_cache_and_writes_the_same_bytes(tmp_path, monkeypatch):
    args = ["encode", str(MNIST), "--n", "1500", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 0

    def no_encoding(*a, **k):
        raise AssertionError("encoded again")

    monkeypatch.setattr(map_cache, "encode_sharded", no_encoding)
    assert main([*args, "--out", str(tmp_path / "b.npz")]) == 0  # from memory
    map_cache._memory.clear()
    assert main([*args, "--out", str(tmp_path / "c.npz")]) == 0  # from the file cache
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes() == (tmp_path / "c.npz").read_bytes()


def test_the_test_split_shares_the_apps_cached_encoding(tmp_path):
    model = load_model(MNIST).eval()
    name = map_cache.split_encoding_name(MNIST, model, "test")
    assert name == map_cache.encoding_name(MNIST, model)  # warm and the app's map write this one
    assert map_cache.split_encoding_name(MNIST, model, "both", 10) != name
    assert map_cache.split_encoding_name(MNIST, model, "test", images="x.npz") is None


def test_an_imported_vaex_model_and_your_own_images(tmp_path):
    out = tmp_path / "vaex.npz"
    assert main(["encode", str(VAEX), "--n", "30", "--out", str(out), "--quiet"]) == 0
    codes = read_codes(out, VAEX)
    assert codes.mean.shape == (30, 20) and (codes.std > 0).all()
    images = tmp_path / "mine.npz"
    rng = np.random.default_rng(0)
    np.savez(images, x=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), y=np.arange(12) % 3)
    out = tmp_path / "mine-codes.npz"
    assert main(["encode", str(MNIST), "--images", str(images), "--out", str(out), "--quiet"]) == 0
    codes = read_codes(out, MNIST)
    assert codes.mean.shape == (12, 2) and codes.meta["images"] == "mine.npz"
    assert codes.labels.tolist() == (np.arange(12) % 3).tolist()


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "codes.npz")
    assert "--split must be one of test, train, both" in one_line_error(
        capsys, ["encode", str(MNIST), "--split", "val", "--out", out])
    assert "trained on mnist, not digits" in one_line_error(
        capsys, ["encode", str(MNIST), "--dataset", "digits", "--out", out])
    images = tmp_path / "mine.npz"
    np.savez(images, x=np.zeros((3, 28, 28), np.uint8))
    assert "test split only" in one_line_error(
        capsys, ["encode", str(MNIST), "--images", str(images), "--split", "train", "--out", out])
    # MNIST's training files nowhere: no data folder, no EXPLORER_DATA_DIR, an empty user cache
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    assert "the mnist training split is not on disk" in one_line_error(
        capsys, ["encode", str(MNIST), "--split", "train", "--out", out])
    assert not Path(out).exists()


def test_codes_of_another_model_or_no_codes_at_all_are_refused(tmp_path, capsys):
    out = tmp_path / "codes.npz"
    assert main(["encode", str(DIGITS), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["encode", str(DIGITS), "--check", str(out)]) == 0
    assert "holds codes of another model (digits_vae2.safetensors" in one_line_error(
        capsys, ["encode", str(MNIST), "--check", str(out)])
    with pytest.raises(CodesError, match="another model"):
        read_codes(out, MNIST)
    junk = tmp_path / "junk.npz"
    np.savez(junk, mean=np.zeros((3, 2), np.float32))
    assert "is not a codes file" in one_line_error(capsys, ["encode", str(MNIST), "--check", str(junk)])
    (tmp_path / "text.npz").write_text("hello")
    assert "is not a codes file" in one_line_error(capsys, ["encode", str(MNIST), "--check", str(tmp_path / "text.npz")])
    assert "no_such.npz" in one_line_error(capsys, ["encode", str(MNIST), "--check", str(tmp_path / "no_such.npz")])


def test_a_real_mnist_training_split(mnist_dir, tmp_path):
    out = tmp_path / "train.npz"
    assert main(["encode", str(MNIST), "--split", "train", "--n", "2000", "--data-dir", str(mnist_dir),
                 "--out", str(out), "--quiet"]) == 0
    codes = read_codes(out, MNIST)
    assert codes.from_train.all() and codes.indices.tolist() == list(range(2000))
    assert torch.equal(torch.from_numpy(codes.labels), load_dataset("mnist", mnist_dir).train_y[:2000])


def test_warm_fills_the_cache_that_encode_reads(tmp_path, monkeypatch, capsys):
    assert main(["warm", "--models", str(DIGITS), "--projections", "pca", "--splits", "both", "--quiet"]) == 0
    assert "encoding of 1,797 images (split both) ready" in capsys.readouterr().out
    map_cache._memory.clear()  # another process: only the file is left
    monkeypatch.setattr(map_cache, "encode_sharded", lambda *a, **k: pytest.fail("encoded again"))
    assert main(["encode", str(DIGITS), "--split", "both", "--quiet", "--out", str(tmp_path / "c.npz")]) == 0
    assert "--splits takes test, train, both" in one_line_error(
        capsys, ["warm", "--models", str(DIGITS), "--splits", "val"])
