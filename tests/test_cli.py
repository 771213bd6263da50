"""The real command line: `python -m explorer ...` and explorer.cli.main([...]) on tiny digits models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import ModelConfig, build_model, load_model, save_model
import explorer.cli.train as cli_train
from explorer.cli import COMMANDS, main
from explorer.data import DataNotFound
from explorer.figures.images import grid

REPO = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "digits", "--hidden", "32", "--latent", "2", "--batch-size", "128", "--threads", "1",
        "--quiet"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A fresh `python -m explorer` process, as a user would start it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 2-epoch digits VAE shared by the tests below (in-process: no interpreter start-up)."""
    d = tmp_path_factory.mktemp("trained")
    ckpt, metrics = d / "vae.safetensors", d / "metrics.json"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(ckpt), "--metrics-out", str(metrics)]) == 0
    return {"dir": d, "ckpt": ckpt, "metrics": metrics}


def test_train_writes_checkpoint_and_metrics(trained: dict) -> None:
    model = load_model(trained["ckpt"])
    assert model.config.image_shape == (1, 8, 8) and model.config.hidden == (32,)
    assert model.metadata["dataset"]["name"] == "digits"
    assert [e["epoch"] for e in model.metadata["history"]["epochs"]] == [1, 2]
    summary = json.loads(trained["metrics"].read_text())
    assert summary["status"] == "finished"
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    for e in summary["epochs"]:
        assert e["wall_time"] > 0 and e["samples_per_sec"] > 0
        assert e["test_elbo"] < 0  # nats: a log-likelihood bound


def test_info_prints_the_card(trained: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(trained["ckpt"])]) == 0
    out = capsys.readouterr().out
    assert "VAE · MLP 32 · relu · latent 2" in out
    assert "dataset: digits (1438 train / 359 test)" in out
    assert "trained: 2 epochs" in out
    assert main(["info", str(trained["ckpt"]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["config"]["latent_dim"] == 2 and "history" not in card


def test_resume_continues_the_epochs(trained: dict, tmp_path: Path) -> None:
    out = tmp_path / "resumed.safetensors"
    assert main(["train", *TINY, "--epochs", "3", "--resume", str(trained["ckpt"]), "--out", str(out)]) == 0
    history = load_model(out).metadata["history"]
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    steps_per_epoch = -(-1438 // 128)
    assert history["epochs"][-1]["step"] == 3 * steps_per_epoch


def test_sample_writes_a_png_grid_of_the_right_size(trained: dict, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    assert main(["sample", str(trained["ckpt"]), "--n", "12", "--nrow", "4", "--scale", "3", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG"
        # 4 x 3 images of 8 x 8 with a 1-pixel border around each, then scaled 3x.
        assert im.size == (3 * (4 * 9 + 1), 3 * (3 * 9 + 1))


def test_sample_is_reproducible_for_a_seed(trained: dict, tmp_path: Path) -> None:
    paths = {name: tmp_path / f"{name}.png" for name in ("a", "b", "c")}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert main(["sample", str(trained["ckpt"]), "--n", "9", "--seed", seed, "--out", str(paths[name])]) == 0
    assert paths["a"].read_bytes() == paths["b"].read_bytes()
    assert paths["a"].read_bytes() != paths["c"].read_bytes()


def test_sample_manifold_grid_needs_a_2d_latent(trained: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "grid.png"
    assert main(["sample", str(trained["ckpt"]), "--grid", "5", "--scale", "1", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (5 * 9 + 1, 5 * 9 + 1)
    three_d = save_model(build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=3, hidden=(16,))),
                         tmp_path / "z3.safetensors", dataset={"name": "digits"})
    assert main(["sample", str(three_d), "--grid", "5", "--out", str(out)]) == 2
    assert "--grid needs a 2-D latent" in capsys.readouterr().err


def test_bundled_split_trains_offline_and_keeps_its_held_out_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture) -> None:
    def no_mnist(*args, **kwargs):
        raise DataNotFound("Put train-images-idx3-ubyte.gz ... in /nowhere")

    monkeypatch.setattr(cli_train, "load_dataset", no_mnist)  # full MNIST absent, downloads impossible
    out = tmp_path / "m.safetensors"
    small = ["--hidden", "16", "--batch-size", "500", "--threads", "1", "--quiet"]
    assert main(["train", "--dataset", "mnist", *small, "--epochs", "1", "--out", str(out)]) == 2
    assert "Offline, --bundled-split trains on the bundled test split" in capsys.readouterr().err

    assert main(["train", "--dataset", "mnist", "--bundled-split", *small, "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bundled MNIST test split" in printed and "(8000 images, binarized pixels)" in printed
    assert load_model(out).metadata["dataset"]["test_from"] == 8000
    # a resume without the flag keeps the split: its test images were never trained on
    assert main(["train", "--dataset", "mnist", *small, "--epochs", "2", "--resume", str(out), "--out", str(out)]) == 0
    assert "(8000 images, binarized pixels)" in capsys.readouterr().out
    assert load_model(out).metadata["dataset"]["test_from"] == 8000
    assert main(["evaluate", str(out), "--k", "2", "--quiet", "--threads", "1"]) == 0
    assert "evaluating 2000 test images of mnist" in capsys.readouterr().out
    assert main(["train", "--dataset", "digits", "--bundled-split", *small, "--out", str(out)]) == 2
    assert "--bundled-split is the bundled MNIST split: use --dataset mnist" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", *small, "--epochs", "3", "--resume", str(out), "--out", str(out)]) == 2
    assert "m.safetensors trained on mnist, but --dataset says digits" in capsys.readouterr().err


def test_sample_grid_of_an_autoencoder_spans_its_codes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ae = save_model(build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,), kind="ae")),
                    tmp_path / "ae.safetensors", dataset={"name": "digits"})
    out = tmp_path / "grid.png"
    assert main(["sample", str(ae), "--grid", "4", "--scale", "1", "--out", str(out)]) == 0
    assert "encoded test set's 5%…95% quantiles" in capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size == (4 * 9 + 1, 4 * 9 + 1)
    nameless = save_model(build_model(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,), kind="ae")),
                          tmp_path / "nameless.safetensors")
    assert main(["sample", str(nameless), "--grid", "4", "--out", str(out)]) == 2
    assert "does not name its dataset" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_writes_a_strip_and_a_gif(trained: dict, tmp_path: Path, method: str) -> None:
    png, gif = tmp_path / "strip.png", tmp_path / "path.gif"
    assert main(["interpolate", str(trained["ckpt"]), "--a", "0", "--b", "5", "--steps", "7", "--method", method,
                 "--scale", "2", "--out", str(png), "--gif", str(gif)]) == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (2 * (7 * 9 + 1), 2 * (8 + 2))
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.size == (16, 16)
        assert im.n_frames == 7 + 5  # there (7) and back without repeating the ends (5)


def test_interpolate_endpoints_are_the_decoded_posterior_means(trained: dict) -> None:
    from explorer import load_dataset
    from explorer.cli.interpolate import interpolate

    model = load_model(trained["ckpt"])
    x = load_dataset("digits").test_x[[0, 5]]
    frames = interpolate(model, x, steps=4, method="slerp")
    assert frames.shape == (4, 1, 8, 8)
    torch.testing.assert_close(frames[[0, -1]], model.reconstruct(x))


def test_interpolate_uses_the_bundled_mnist_test_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ckpt = save_model(build_model(ModelConfig(latent_dim=2, hidden=(16,))), tmp_path / "mnist.safetensors",
                      dataset={"name": "mnist"})
    out = tmp_path / "m.png"
    assert main(["interpolate", str(ckpt), "--a", "0", "--b", "9999", "--steps", "3", "--scale", "1",
                 "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.size == (3 * 29 + 1, 30)
    assert main(["interpolate", str(ckpt), "--a", "0", "--b", "10000", "--out", str(out)]) == 2
    assert "--b 10000 is out of range: the test split has 10000 images" in capsys.readouterr().err


def test_interpolate_takes_a_bundled_split_models_held_out_images(tmp_path: Path, capsys) -> None:
    """A model that trained on MNIST test images 0-7,999 interpolates between held-out ones only: --a 0 is
    test image 8,000, as in `evaluate` and the app."""
    from explorer.data.ref import DatasetRef, load_test_set
    from explorer.cli.interpolate import interpolate

    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, hidden=(16,)))
    ckpt = save_model(model, tmp_path / "split.safetensors",
                      dataset={"name": "mnist", "train_size": 8000, "test_size": 2000, "test_from": 8000})
    out = tmp_path / "s.png"
    assert main(["interpolate", str(ckpt), "--a", "0", "--b", "1999", "--steps", "2", "--scale", "1",
                 "--out", str(out)]) == 0
    assert "index 0 is test image 8,000" in capsys.readouterr().err
    held_out = DatasetRef("mnist", "binarized").scored(load_test_set("mnist").test_x[8000:])  # as the likelihood sees them
    want = grid(interpolate(model.eval(), held_out[[0, 1999]], 2), nrow=2)
    with Image.open(out) as im:
        got = torch.from_numpy(np.asarray(im.convert("L"), dtype=np.float32) / 255)
    torch.testing.assert_close(got, want[0], atol=1 / 255, rtol=0)
    assert main(["interpolate", str(ckpt), "--a", "0", "--b", "2000", "--out", str(out)]) == 2
    assert "--b 2000 is out of range: the test split has 2000 images" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["sample", "{tmp}/missing.safetensors"], "no such checkpoint file"),
    (["info", "{tmp}/notes.txt"], "notes.txt: not a safetensors"),
    (["interpolate", "{tmp}/notes.txt", "--a", "0", "--b", "1"], "notes.txt: not a safetensors"),
    (["interpolate", "{ckpt}", "--a", "-1", "--b", "1"], "--a -1 is out of range"),
    (["train", *TINY, "--epochs", "1", "--hidden", "0", "--out", "{tmp}/x.safetensors"], "hidden must list positive"),
    (["train", *TINY, "--epochs", "1", "--kind", "ae", "--iwae-k", "5", "--out", "{tmp}/x.safetensors"],
     "iwae_k and samples apply to a VAE only"),
])
def test_bad_input_is_a_message_and_exit_code_2(argv: list[str], message: str, trained: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes.txt").write_text("not a checkpoint at all, just some words\n")
    argv = [a.format(tmp=tmp_path, ckpt=trained["ckpt"]) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["train", "--hidden", "a,b"], ["sample", "x.safetensors", "--n", "0"],
                                  ["interpolate", "x.safetensors", "--a", "0", "--b", "1", "--steps", "1"],
                                  ["interpolate", "x.safetensors", "--a", "0"], ["train", "--threads", "0"],
                                  ["train", "--checkpoint-every", "0"]])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_an_error_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    r = run_cli("sample", "missing.safetensors", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "error: missing.safetensors: no such checkpoint file\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this box has a CUDA GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "x.safetensors"
    assert main(["train", *TINY, "--epochs", "1", "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU is available" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("command", [m.__name__.rsplit(".", 1)[-1].replace("_", "-") for m in COMMANDS])
def test_help_for_each_subcommand(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m explorer {command}") and "--help" in out


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for m in COMMANDS:
        assert m.__name__.rsplit(".", 1)[-1].replace("_", "-") in out  # import_onnx is import-onnx


def test_estimators_show_why_naive_monte_carlo_fails(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The bundled 50-D MNIST VAE: draws from the prior almost never explain a test image.
    out = tmp_path / "est.json"
    assert main(["estimators", str(REPO / "trained" / "mnist_vae50.safetensors"), "--n", "4", "--k", "200",
                 "--repeats", "3", "--grad-repeats", "4", "--steps", "20", "--threads", "1",
                 "--json-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "naive Monte Carlo" in printed and "SGVB A" in printed and "amortization gap" in printed
    r = json.loads(out.read_text())
    ll = r["log_likelihood"]
    assert ll["naive_bias"] < -20 and ll["naive"]["spread"] > ll["importance"]["spread"]
    assert ll["naive_bias"] == pytest.approx(ll["naive"]["estimate"] - ll["importance"]["estimate"], abs=1e-4)
    # The KL term has no decoder weights in it and both estimators see the same eps: equal decoder variance.
    assert r["gradient_variance"]["ratio_mc_to_analytic"]["decoder"] == pytest.approx(1.0, abs=1e-5)
    assert r["amortization"]["gap"] >= 0
    assert r["amortization"]["elbo_optimised"] < ll["importance"]["estimate"] + 1.0
    # q* as the proposal: an estimate of log p(x) that lies above q*'s own ELBO (log of a mean >= mean of logs)
    a = r["amortization"]
    assert a["log_likelihood_q_star"] > a["elbo_optimised"]
    assert "with q* as the proposal" in printed
    # the reported log p(x) is the larger of the two estimates image by image (evaluation.best_estimate)
    assert a["log_likelihood_best"] >= max(a["log_likelihood_q_star"], a["log_likelihood_encoder"]) - 1e-4
    assert 0 <= a["best_from_q_star"] <= 4 and "the larger of the two for each image" in printed
    # the encoder's estimate is the comparison's first run (the same seed): near the mean of its runs
    spread = ll["importance"]["spread"]
    assert a["log_likelihood_encoder"] == pytest.approx(ll["importance"]["estimate"], abs=3 * spread)


def test_estimators_say_when_the_encoders_proposal_is_biased_low(capsys: pytest.CaptureFixture) -> None:
    """On the 2-D model the encoder's q is a poor proposal: its estimate of log p(x) falls below the optimised
    ELBO, a lower bound on log p(x), and the output says so instead of printing an impossible order silently."""
    assert main(["estimators", str(REPO / "trained" / "mnist_vae2.safetensors"), "--n", "5", "--k", "200",
                 "--repeats", "2", "--grad-repeats", "2", "--steps", "300", "--threads", "1"]) == 0
    assert "note: the estimate with the encoder's q lies below the optimised ELBO" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["estimators", str(REPO / "trained" / "mnist_ae2.safetensors")], "is an autoencoder (ae), not a VAE"),
    (["evaluate", str(REPO / "trained" / "mnist_dae2.safetensors")], "is an autoencoder (dae), not a VAE"),
    (["estimators", str(REPO / "trained" / "digits_vae2.safetensors"), "--repeats", "1"], "at least 2"),
])
def test_estimators_and_evaluate_refuse_what_they_cannot_do(argv: list[str], message: str,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
