"""The page's forward pass (explorer/web/vaenet.js) in real Chromium against torch: every bundled model, a
freshly trained conv model, and untrained models of every architecture, likelihood, kind and activation.
Decodes of 100 random z and encodes of 20 images agree to 1e-4 (pixel means, mu, sigma)."""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import load_model
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.web.payload import pack, read, unsupported
from tests.browser_harness import REPO, add_module, launch, missing_browser

TOL = 1e-4
BUNDLED = sorted((REPO / "trained").glob("*.safetensors"))


def test_payload_header_holds_numbers_only() -> None:
    model = build_model(ModelConfig(arch="conv", hidden=(8, 16), image_shape=(1, 13, 11), kind="vae"))
    header, data = read(pack(model, {"xy": np.zeros((5, 2))}, {"selected": 3}))

    def leaves(x):
        if isinstance(x, dict):
            for v in x.values():
                yield from leaves(v)
        elif isinstance(x, list):
            for v in x:
                yield from leaves(v)
        else:
            yield x
    assert all(isinstance(v, (int, float)) for v in leaves(header))
    assert len(data) == model.num_parameters() + 10  # every weight once, then the array
    assert header["arrays"]["xy"][1:] == [5, 2]
    _, dec_only = read(pack(model, encoder=False))
    assert len(dec_only) == sum(p.numel() for p in model.decoder.parameters())  # a page that only decodes
    with pytest.raises(ValueError, match="finite number"):
        pack(numbers={"name": "<img src=x>"})


@pytest.mark.parametrize("part, index, layer, reason", [
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, (4, 3), stride=2, padding=1), "kernel_size (4, 3)"),
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, 4, stride=(2, 1), padding=1), "stride (2, 1)"),
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, 4, stride=2, padding=(1, 2)), "padding (1, 2)"),
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, 3, padding="same"), "padding 'same'"),
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, 4, stride=2, padding=1, dilation=2), "dilation (2, 2)"),
    ("encoder", 2, lambda: torch.nn.Conv2d(8, 16, 4, stride=2, padding=1, groups=2), "groups 2"),
    ("encoder", 0, lambda: torch.nn.Conv2d(1, 8, 4, stride=2, padding=1, padding_mode="reflect"),
     "padding_mode 'reflect'"),
    ("decoder", 0, lambda: torch.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, output_padding=1),
     "output_padding (1, 1)"),
], ids=["kernel", "stride", "padding", "same", "dilation", "groups", "reflect", "output-padding"])
def test_a_convolution_the_page_would_run_wrongly_is_refused(part: str, index: int, layer, reason: str) -> None:
    """vaenet.js reads one kernel size, stride and padding (zeros) and has no dilation, groups or output_padding:
    such a model is refused, so the app draws its map on the server instead of decoding it wrongly."""
    model = build_model(ModelConfig(arch="conv", hidden=(8, 16)))
    assert unsupported(model) is None
    layers = model.encoder.convs if part == "encoder" else model.decoder.deconvs
    layers[index] = layer()
    why = unsupported(model)
    assert why is not None and "the page cannot run a" in why and reason in why, why


def test_a_model_too_large_for_the_page_says_why() -> None:
    big = build_model(ModelConfig(hidden=(4096, 4096)))
    assert unsupported(big) is not None and "MB" in unsupported(big)
    assert unsupported(build_model(ModelConfig())) is None


def _untrained() -> list[tuple[str, torch.nn.Module]]:
    out = []
    for i, (arch, lik, kind, act, shape, hidden) in enumerate([
            ("mlp", "bernoulli", "vae", "relu", (1, 28, 28), (64, 32)),
            ("mlp", "gaussian", "ae", "tanh", (1, 12, 10), (20,)),
            ("mlp", "gaussian_learned", "dae", "elu", (3, 8, 8), (16, 16)),
            ("conv", "bernoulli", "vae", "leaky_relu", (1, 28, 28), (8, 16, 16)),  # 28 -> 3: final resize
            ("conv", "gaussian_learned", "vae", "softplus", (3, 13, 11), (6, 10)),
            ("conv", "gaussian", "ae", "relu", (1, 16, 16), (4, 8))]):
        torch.manual_seed(i)
        cfg = ModelConfig(arch=arch, likelihood=lik, kind=kind, activation=act, image_shape=shape, hidden=hidden,
                          latent_dim=3 + i % 3)
        out.append((f"{arch}-{lik}-{kind}-{act}", build_model(cfg).eval()))
    return out


@pytest.fixture(scope="module")
def fresh_conv(tmp_path_factory) -> Path:
    from explorer.cli import main

    out = tmp_path_factory.mktemp("conv") / "digits_conv.safetensors"
    assert main(["train", "--dataset", "digits", "--arch", "conv", "--hidden", "16,32", "--latent", "3",
                 "--epochs", "2", "--batch-size", "64", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser():
    why = missing_browser()
    if why:
        pytest.skip(f"browser test skipped: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def js_page(browser):
    page = browser.new_page()
    page.set_content("<html><body></body></html>")
    add_module(page, 'import * as VAENet from "./vaenet.js"; window.VAENet = VAENet;')
    yield page
    page.close()


RUN = """([b64, zs, xs]) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const padded = new Uint8Array(raw.length + 1); padded.set(raw, 1);  // an odd offset, as Streamlit's
    const m = VAENet.parse(padded.subarray(1)).model;
    return { dec: zs.map((z) => Array.from(VAENet.decode(m, z))),
             enc: xs.map((x) => { const q = VAENet.encode(m, x); return [Array.from(q.mu), Array.from(q.sigma)]; }) };
}"""


def _check(page, model, images: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(0)
    z = 2 * torch.randn(100, model.latent_dim, generator=g)
    got = page.evaluate(RUN, [base64.b64encode(pack(model)).decode(), z.tolist(),
                              images.flatten(1).tolist()])
    with torch.no_grad():
        want_x = model.decode(z).mean.flatten(1).numpy()
        q = model.encode(images)
        want_mu, want_sd = q.mean.numpy(), q.variance.sqrt().numpy()
    assert np.abs(np.array(got["dec"]) - want_x).max() <= TOL
    dec_only = page.evaluate(RUN, [base64.b64encode(pack(model, encoder=False)).decode(), z[:10].tolist(), []])
    assert np.abs(np.array(dec_only["dec"]) - want_x[:10]).max() <= TOL  # what the map and sliders get
    enc = got["enc"]
    assert np.abs(np.array([e[0] for e in enc]) - want_mu).max() <= TOL
    assert np.abs(np.array([e[1] for e in enc]) - want_sd).max() <= TOL


@pytest.mark.browser
@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_model_in_the_page_matches_torch(js_page, path: Path) -> None:
    from explorer.data.ref import DatasetRef

    model = load_model(path)
    data = DatasetRef.of(model).load_test()
    _check(js_page, model, data.test_x[:20])


@pytest.mark.browser
def test_freshly_trained_conv_model_in_the_page_matches_torch(js_page, fresh_conv: Path) -> None:
    from explorer.data.ref import load_test_set

    model = load_model(fresh_conv)
    assert model.config.arch == "conv"
    _check(js_page, model, load_test_set("digits").test_x[:20])


@pytest.mark.browser
@pytest.mark.parametrize("name,model", _untrained(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_architecture_in_the_page_matches_torch(js_page, name: str, model) -> None:
    x = torch.rand(20, *model.config.image_shape, generator=torch.Generator().manual_seed(1))
    _check(js_page, model, x)


@pytest.fixture(scope="module")
def map_page(browser):
    """The map's core module in a bare page, no host (zoom and redraw too, for tests/test_browser_holes.py)."""
    page = browser.new_page()
    page.set_content("<html><body><div id='host' style='width:800px'></div></body></html>")
    add_module(page, 'import { mountMap } from "./latent_map.js";\nimport { zoom } from "./map_pointer.js";\n'
                     'import { redraw } from "./map_view.js";\nObject.assign(window, { mountMap, zoom, redraw });')
    yield page
    page.close()


MAP_GEOMETRY = """([b64, pixels, q]) => {
    const blob = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const root = document.createElement('div'); document.getElementById('host').appendChild(root);
    const map = mountMap(root); map.load(blob); map.showDrawn(q);
    return { at: pixels.map(([px, py]) => map.latentAt(px, py)), drawn: map.state.drawn };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("method", ["pca", "axes"])
def test_the_maps_pointer_and_a_drawing_land_where_python_puts_them(map_page, method: str) -> None:
    """The pointer's z (PCA: z = mean + p U; 2-D: z = p) maps back onto the pointer through the Python
    projection, and a posterior's mean and covariance are placed as proj.transform / project_covariance do."""
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    D = 5 if method == "pca" else 2
    model = build_model(ModelConfig(latent_dim=D, hidden=(8,), image_shape=(1, 6, 6)))
    mu = np.random.default_rng(0).normal(size=(300, D)) * np.linspace(2, 0.5, D)
    proj = make_projection(method)
    coords = proj.fit_transform(mu)
    blob = map_payload(model, proj, coords, np.zeros(len(mu)), mu)
    q = {"mu": [0.3, -1.2, 0.5, 0.1, 2.0][:D], "sigma": [0.5, 0.2, 1.0, 0.3, 0.7][:D]}
    got = map_page.evaluate(MAP_GEOMETRY, [base64.b64encode(blob).decode(), [[100, 80], [400, 300], [250, 500]], q])
    for at in got["at"]:
        z, p = np.array(at["z"]), np.array(at["xy"])
        assert np.abs(proj.transform(z[None])[0] - p).max() < 1e-5  # the pointer's z sits under the pointer
        if method == "pca":
            assert np.abs(z - (proj.mean_ + p @ proj.components_)).max() < 1e-5
    want_xy = proj.transform(np.array([q["mu"]]))[0]
    want_cov = proj.project_covariance(np.diag(np.square(q["sigma"])))
    assert np.abs(np.array(got["drawn"]["xy"]) - want_xy).max() < 1e-5
    assert np.abs(np.array(got["drawn"]["cov"]).reshape(2, 2) - want_cov).max() < 1e-5
