"""`neighbours` and `attribute` on a tiny digits VAE: the PNG's shape, the printed distances, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from explorer import load_model
from explorer.cli import main
from explorer.data.ref import DatasetRef
from explorer.model.encoding import encode
from tests.test_cli import TINY


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("explore") / "vae.safetensors"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(path)]) == 0
    return path


def test_neighbours_writes_one_row_per_metric_and_prints_brute_force_answers(ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "nb.png"
    assert main(["neighbours", str(ckpt), "--index", "4", "--k", "5", "--out", str(out), "--scale", "1"]) == 0
    assert Image.open(out).size == (6 * 9 + 1, 3 * 9 + 1)  # 8x8 digits with 1 px gaps: image + 5, three rows
    text = capsys.readouterr().out
    model = load_model(ckpt)
    ref = DatasetRef.of(model)  # the posterior of the image as the likelihood sees it, as on the map
    mean = encode(model, ref.scored(ref.load_test().test_x)).mean.astype(np.float64)
    d = np.sqrt(((mean - mean[4]) ** 2).sum(1))
    d[4] = np.inf
    want = np.argsort(d, kind="stable")[:5]
    latent_block = text.split("kl (")[0]
    assert [int(line.split()[0]) for line in latent_block.splitlines()[1:]] == want.tolist()


def test_attribute_writes_a_row_per_image(ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "attr.png"
    assert main(["attribute", str(ckpt), "--from-label", "1", "--to-label", "7", "--apply", "0,1,2",
                 "--out", str(out), "--scale", "1"]) == 0
    assert Image.open(out).size == (6 * 9 + 1, 3 * 9 + 1)  # the image + 5 strengths, one row per image
    assert "strengths -2, -1, 0, 1, 2" in capsys.readouterr().out
    assert main(["attribute", str(ckpt), "--from-images", "0,1", "--to-images", "2", "--apply", "3",
                 "--strengths", "0,0.5", "--out", str(out), "--scale", "1"]) == 0
    assert Image.open(out).size == (3 * 9 + 1, 9 + 1)


@pytest.mark.parametrize("argv, message", [
    (["neighbours", "--index", "359"], "--index 359 is out of range: the test split has 359 images"),
    (["attribute", "--from-label", "1", "--to-label", "12", "--apply", "0"], "no test image has label 12"),
    (["attribute", "--from-label", "1", "--to-label", "2", "--apply", "0,400"], "--apply index 400 is out of range"),
])
def test_bad_input_is_one_line_on_stderr(ckpt, tmp_path, capsys, argv, message) -> None:
    argv = [argv[0], str(ckpt), *argv[1:], "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
