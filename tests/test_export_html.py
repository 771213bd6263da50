"""One HTML file (explorer/web/export*.py, page_blob.py, `export-html`): the blob the file carries and its float16
form, the file's policy and escaping, the command's options and one-line errors. tests/test_browser_export.py
opens the file in Chromium."""
from __future__ import annotations

import base64
import json
import re
import zlib

import numpy as np
import pytest
import torch

from explorer import load_model
from explorer.cli import main
from explorer.latent.map import encode_map
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.web import export as export_mod
from explorer.web.export import export_page
from explorer.web.export_html import csp
from explorer.web.page_blob import F16_MAX, for_file, from_file, page_payload, weight_ranges
from explorer.web.payload import read
from tests.browser_harness import REPO

VAE2 = REPO / "trained" / "mnist_vae2.safetensors"
VAEX = REPO / "trained" / "pytorch_examples_vae.vaex"


def _small(arch: str = "mlp", kind: str = "vae"):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, hidden=(16, 8) if arch == "conv" else (32,), latent_dim=3,
                                    kind=kind, image_shape=(1, 12, 12))).eval()
    x = torch.rand(50, 1, 12, 12)
    enc, fitted = encode_map(model, x)
    return model, x, enc, fitted


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_file_blob_is_the_page_blob_and_float16_rounds_the_weights_alone(arch: str) -> None:
    model, x, enc, fitted = _small(arch)
    blob = page_payload(model, enc, fitted.proj, fitted.coords, np.arange(50) % 3, x)
    header, data = read(blob)
    assert sum(s for _, s in weight_ranges(header)) == model.num_parameters()  # every weight and bias, once
    assert {"coords", "labels", "mu", "thumbs", "z0", "U", "lo", "hi", "c"} <= set(header["arrays"])
    assert header["model"]["encoder"] and header["model"]["decoder"]  # the drawing panel encodes
    assert from_file(for_file(blob)) == blob
    half = for_file(blob, float16=True)
    back_header, back = read(from_file(half))
    assert back_header == header and len(back) == len(data)
    inside = np.zeros(len(data), bool)
    for off, size in half.half:
        inside[off:off + size] = True
    assert back[~inside].tobytes() == data[~inside].tobytes()  # the map, sliders, thumbnails (bytes in words): exact
    assert np.array_equal(back[inside], data[inside].astype(np.float16).astype(np.float32))
    assert len(half.data) < 0.75 * len(for_file(blob).data)


def test_float16_refuses_a_weight_it_cannot_hold() -> None:
    model, x, enc, fitted = _small()
    with torch.no_grad():
        model.decoder.net[0].weight[0, 0] = 2 * F16_MAX
    blob = page_payload(model, enc, fitted.proj, fitted.coords, None, x)
    with pytest.raises(ValueError, match="float16 cannot hold"):
        for_file(blob, float16=True)
    assert from_file(for_file(blob)) == blob  # float32 carries it


@pytest.fixture
def no_code(monkeypatch):
    """The page's code left out: these tests read the file's Python-made parts."""
    monkeypatch.setattr(export_mod, "page_code", lambda: ("console.log('page');", "body { margin: 0; }"))


def test_the_file_forbids_requests_and_escapes_every_text_from_the_checkpoint(no_code) -> None:
    model, x, enc, fitted = _small()
    hostile = "<img src=x onerror=alert(1)>"
    model.metadata = {"metrics": {"test_elbo": -80.5, "test_kl": hostile, "active_units": 3},
                      "dataset": {"name": "digits", "pixels": "grey"}}
    out = export_page(model, hostile, enc, fitted.proj, fitted.coords, None, x, classes=[hostile, "b"])
    text = out.text
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "-80.50 nats per image" in text and "active dimensions" in text and "KL(q" not in text
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    script = re.search(r'<script type="module">(.*)</script>', text, re.S).group(1)
    assert policy.replace("&#x27;", "'") == csp(script) and "default-src 'none'" in csp(script)
    assert "unsafe-inline" not in csp(script).split("style-src")[0]  # the one script, by its hash
    assert "http://" not in text and "https://" not in text and not re.search(r"<\w+[^>]*\s(src|href)=", text)
    assert out.sizes["total"] == len(text.encode()) and out.thumbs


def test_the_page_code_may_not_close_its_own_element(monkeypatch) -> None:
    monkeypatch.setattr(export_mod, "page_code", lambda: ("'</script><b>'", ""))
    model, x, enc, fitted = _small()
    with pytest.raises(ValueError, match="end its own"):
        export_page(model, "m", enc, fitted.proj, fitted.coords, None, x)


def _blob_of(path) -> dict:
    """The file's blob header and its float16 ranges, as the page reads them."""
    got = re.search(r'id="vp-blob" data-half="([^"]*)">([^<]*)<', path.read_text())
    raw = zlib.decompress(base64.b64decode(got.group(2)))
    n = int.from_bytes(raw[4:8], "little")
    return {"half": got.group(1), "header": json.loads(raw[8:8 + n])}


@pytest.mark.slow
def test_export_html_writes_the_options_it_is_given(no_code, tmp_path, capsys) -> None:
    out = tmp_path / "vaex.html"
    assert main(["export-html", str(VAEX), "--out", str(out), "--n", "300", "--no-thumbs", "--float16",
                 "--title", "example", "--threads", "1"]) == 0
    said = capsys.readouterr().out
    assert "300 points" in said and "no thumbnails" in said and "float16" in said
    got = _blob_of(out)
    h = got["header"]
    assert h["arrays"]["coords"][1:] == [300, 2] and "thumbs" not in h["arrays"] and got["half"] != "[]"
    assert h["mode"] == 1 and h["arrays"]["mu"][1:] == [300, 20]  # 20-D: PCA, the chosen points' z kept
    assert "<title>example · VAE Explorer</title>" in out.read_text()


@pytest.mark.parametrize("argv, message", [
    (["missing.safetensors"], "missing.safetensors"),
    ([str(VAE2), "--method", "tsne"], "does not fit a 2-D latent"),
    ([str(VAE2), "--out", "/nonexistent-dir/x.html", "--n", "20"], "cannot write /nonexistent-dir/x.html"),
], ids=["no-file", "method", "unwritable"])
def test_export_html_errors_are_one_line_exit_2(no_code, capsys, argv, message) -> None:
    assert main(["export-html", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_a_model_no_page_can_run_is_refused_in_one_line(no_code, tmp_path, capsys, monkeypatch) -> None:
    import explorer.cli.export_html as cmd

    monkeypatch.setattr(cmd, "cannot_run", lambda model: "the page cannot run a Conv2d with dilation (2, 2)")
    assert main(["export-html", str(VAE2), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "a page cannot run this model: the page cannot run a Conv2d" in err and not (tmp_path / "x.html").exists()


@pytest.mark.slow
def test_mnist_vae2_with_10000_points_and_thumbnails_stays_under_8_mb(tmp_path) -> None:
    out = tmp_path / "map.html"
    assert main(["export-html", str(VAE2), "--out", str(out), "--threads", "2"]) == 0
    size = out.stat().st_size
    assert size < 8e6, size
    assert load_model(VAE2).latent_dim == 2
