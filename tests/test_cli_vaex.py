"""The command line on a model trained elsewhere: `import-onnx` writes a .vaex, and every command that takes a
checkpoint reads one. The models are tiny torch VAEs on the digits set (8x8), through explorer.from_torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

import explorer
from explorer.cli import main
from explorer.store.vaex_file import graphs_of

REPO = Path(__file__).resolve().parents[1]
IMPORT = ["--encoder-output", "mean_logvar", "--likelihood", "bernoulli_logits", "--image-shape", "1,8,8"]

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class SmallVAE(nn.Module):
    """The pytorch/examples VAE's shape at digits' size: encode -> (mu, logvar), decode -> logits."""

    def __init__(self, hidden: int = 16, latent: int = 2):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64))

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


def imported(dataset: str | None = "digits", seed: int = 0):
    torch.manual_seed(seed)
    return explorer.from_torch(SmallVAE(), image_shape=(1, 8, 8), encoder_output="mean_logvar",
                               likelihood="bernoulli_logits", dataset=dataset, pixels="binarized")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("vaex")
    model = imported()
    enc, dec = graphs_of(model)
    (d / "enc.onnx").write_bytes(enc)
    (d / "dec.onnx").write_bytes(dec)
    return {"dir": d, "model": model, "vaex": explorer.save_model(model, d / "digits.vaex"),
            "nameless": explorer.save_model(imported(None, seed=1), d / "nameless.vaex")}


def one_line_error(capsys, code: int, want: str) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert want in err, err
    return err


# -- import-onnx -------------------------------------------------------------------------------------
def test_import_onnx_writes_a_vaex_that_computes_what_the_graphs_do(files, tmp_path, capsys) -> None:
    out = tmp_path / "mine.vaex"
    d = files["dir"]
    assert main(["import-onnx", str(d / "enc.onnx"), str(d / "dec.onnx"), *IMPORT, "--dataset", "digits",
                 "--pixels", "binarized", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and said.startswith(f"wrote {out}: VAE imported from ONNX · latent 2")
    assert "digits test images, binarized pixels" in said
    m = explorer.load_model(out)
    assert m.config.arch == "imported" and m.card.source == "onnx" and m.card.layout == "nchw"
    assert m.metadata["dataset"]["name"] == "digits" and m.pixels == "binarized"
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        mu, logvar = files["model"].encoder(x)
        q = m.encode(x)
        np.testing.assert_allclose(q.mean.numpy(), mu.numpy(), atol=1e-5)
        np.testing.assert_allclose(q.stddev.numpy(), (0.5 * logvar).exp().numpy(), atol=1e-5)
        z = torch.randn(3, 2)
        np.testing.assert_allclose(m.decode(z).mean.numpy(), torch.sigmoid(files["model"].decoder(z)).numpy(),
                                   atol=1e-5)


def hostile_graph(enc: bytes, how: str) -> bytes:
    proto = onnx.load_from_string(enc)
    if how == "custom domain":
        proto.opset_import.add(domain="com.example.evil", version=1)
    else:  # a weight read from a path on the server's disk
        t = proto.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        t.external_data.add(key="location", value="/etc/passwd")
    return proto.SerializeToString()


@pytest.mark.parametrize("case, args, want", [
    ("missing", ["nope.onnx", "dec.onnx", *IMPORT], "nope.onnx: no such encoder file"),
    ("not onnx", ["notes.txt", "dec.onnx", *IMPORT], "notes.txt: not an ONNX model"),
    ("probabilities", ["enc.onnx", "dec.onnx", "--encoder-output", "mean_logvar", "--likelihood", "bernoulli_probs",
                       "--image-shape", "1,8,8"], "use --likelihood 'bernoulli_logits'"),
    ("std", ["enc.onnx", "dec.onnx", "--encoder-output", "mean_std", "--likelihood", "bernoulli_logits",
             "--image-shape", "1,8,8"], "use 'mean_logvar' or 'mean_logstd'"),
    ("latent", ["enc.onnx", "enc.onnx", *IMPORT], "a decoder takes codes of the size the encoder gives (2)"),
    ("unknown name", ["enc.onnx", "dec.onnx", "--encoder-output", "mu_sigma", "--likelihood", "bernoulli_logits",
                      "--image-shape", "1,8,8"], "--encoder-output must be one of"),
    ("image shape", ["enc.onnx", "dec.onnx", "--encoder-output", "mean_logvar", "--likelihood", "bernoulli_logits",
                     "--image-shape", "1,28,28"], "check --image-shape and --layout"),
    ("dataset shape", ["enc.onnx", "dec.onnx", *IMPORT, "--dataset", "mnist"], "--dataset mnist has images of shape"),
    ("pixels", ["enc.onnx", "dec.onnx", *IMPORT, "--pixels", "dequantized"], "does not fit --likelihood"),
    ("custom domain", ["evil.onnx", "dec.onnx", *IMPORT], "com.example.evil"),
    ("external data", ["evil.onnx", "dec.onnx", *IMPORT], "evil.onnx"),
])
def test_import_onnx_refuses_bad_input_in_one_line(files, tmp_path, monkeypatch, capsys, case, args, want) -> None:
    for f in ("enc.onnx", "dec.onnx"):
        (tmp_path / f).write_bytes((files["dir"] / f).read_bytes())
    (tmp_path / "notes.txt").write_text("hello")
    if case in ("custom domain", "external data"):
        (tmp_path / "evil.onnx").write_bytes(hostile_graph((tmp_path / "enc.onnx").read_bytes(), case))
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, main(["import-onnx", *args, "--out", "m.vaex"]), want)
    assert not (tmp_path / "m.vaex").exists()


def test_import_onnx_in_a_real_process_has_no_traceback(files, tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    d = files["dir"]
    r = subprocess.run([sys.executable, "-m", "explorer", "import-onnx", str(d / "dec.onnx"), str(d / "enc.onnx"),
                        *IMPORT, "--out", str(tmp_path / "m.vaex")], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "the encoder graph's input is declared" in r.stderr and "check --image-shape and --layout" in r.stderr


# -- every command on a .vaex ------------------------------------------------------------------------
def test_info_says_where_the_model_came_from(files, capsys) -> None:
    assert main(["info", str(files["vaex"])]) == 0
    out = capsys.readouterr().out
    assert "VAE imported from PyTorch · latent 2" in out
    assert "imported from torch: encoder_output mean_logvar, likelihood bernoulli_logits, layout nchw" in out
    assert "dataset: digits, binarized pixels" in out and "?" not in out
    assert main(["info", str(files["vaex"]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["config"]["arch"] == "imported" and card["imported"]["encoder_output"] == "mean_logvar"


def test_evaluate_scores_an_imported_model(files, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(files["vaex"]), "--k", "10", "--n", "40", "--threads", "1",
                 "--json-out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["n"] == 40 and res["test_log_likelihood"] < 0 and res["test_elbo"] <= res["test_log_likelihood"] + 1
    assert res["unit"] == "binarized"


def test_sample_and_the_manifold_grid(files, tmp_path) -> None:
    out = tmp_path / "s.png"
    assert main(["sample", str(files["vaex"]), "--n", "4", "--nrow", "2", "--scale", "1", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (2 * 9 + 1, 2 * 9 + 1)
    assert main(["sample", str(files["vaex"]), "--grid", "3", "--scale", "1", "--out", str(out)]) == 0


def test_interpolate_neighbours_and_attribute(files, tmp_path, capsys) -> None:
    v = str(files["vaex"])
    assert main(["interpolate", v, "--a", "0", "--b", "5", "--steps", "4", "--out", str(tmp_path / "i.png")]) == 0
    assert main(["neighbours", v, "--index", "3", "--k", "4", "--out", str(tmp_path / "n.png")]) == 0
    assert "latent (" in capsys.readouterr().out
    assert main(["attribute", v, "--apply", "3", "--from-label", "1", "--to-label", "7",
                 "--out", str(tmp_path / "a.png")]) == 0
    for f in ("i.png", "n.png", "a.png"):
        assert (tmp_path / f).stat().st_size > 0


def test_warm_and_estimators(files, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["warm", "--models", str(files["vaex"]), "--projections", "pca", "--quiet"]) == 0
    assert "encoding of 359 test images ready" in capsys.readouterr().out
    assert main(["estimators", str(files["vaex"]), "--n", "2", "--k", "20", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "importance sampling" in out and "not computed (they need gradients" in out


def test_training_or_resuming_an_imported_model_is_refused(files, tmp_path, capsys) -> None:
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--resume", str(files["vaex"]),
                 "--out", str(tmp_path / "m.safetensors")])
    one_line_error(capsys, code, "a model trained elsewhere cannot be trained here")
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "m.vaex")])
    one_line_error(capsys, code, ".vaex files hold models trained elsewhere")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [["evaluate"], ["neighbours", "--index", "0"], ["interpolate", "--a", "0", "--b", "1"],
                                  ["attribute", "--apply", "0", "--from-label", "1", "--to-label", "7"],
                                  ["estimators"]])
def test_commands_that_need_images_say_how_to_name_them(files, tmp_path, monkeypatch, capsys, args) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([args[0], str(files["nameless"]), *args[1:]])
    one_line_error(capsys, code, "import-onnx --dataset mnist")
    assert main(["warm", "--models", str(files["nameless"]), "--quiet"]) == 2
    assert "import-onnx --dataset" in capsys.readouterr().err
    assert "--images PATH" in one_line_error(capsys, main([args[0], str(files["nameless"]), *args[1:]]), "--images")


@pytest.mark.parametrize("args", [["evaluate", "--k", "5"], ["neighbours", "--index", "0", "--k", "2"],
                                  ["interpolate", "--a", "0", "--b", "1", "--steps", "3"],
                                  ["attribute", "--apply", "0", "--from-label", "1", "--to-label", "2"],
                                  ["estimators", "--n", "2", "--k", "10", "--repeats", "2"]])
def test_your_own_images_serve_every_command(files, tmp_path, monkeypatch, capsys, args) -> None:
    """--images: an .npz of 8x8 digits with labels is the test split of a model that names none."""
    from explorer.data import load_dataset

    monkeypatch.chdir(tmp_path)
    d = load_dataset("digits", test_only=True)
    np.savez(tmp_path / "mine.npz", images=(d.test_x[:30, 0].numpy() * 255).astype(np.uint8),
             labels=d.test_y[:30].numpy())
    code = main([args[0], str(files["nameless"]), *args[1:], "--images", str(tmp_path / "mine.npz")])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    np.save(tmp_path / "wrong.npy", np.zeros((3, 28, 28), np.uint8))
    code = main([args[0], str(files["nameless"]), *args[1:], "--images", str(tmp_path / "wrong.npy")])
    one_line_error(capsys, code, "the model takes 1x8x8")
