"""A model trained elsewhere in the page: its ONNX graphs read into vaenet.js's op records (explorer/web/onnx_ops.py,
onnx_program.py) and run in real Chromium, held against onnxruntime on the same graphs to 1e-4: the
pytorch/examples VAE (two linear heads fused), a Keras-style conv VAE, hand-written MatMul weights with torch's
chunk (Slice) and carried activation slopes, and a channels-last colour model (Transposes, a learned variance).
A graph the page cannot run gives a one-line reason (the app then decodes on the server)."""
from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from torch import nn

from explorer import from_torch
from explorer.store.vaex_file import graphs_of
from explorer.web import ops
from explorer.web.payload import pack, read, unsupported
from tests.foreign_models import channels_last_vae, examples_vae, keras_style_vae, matmul_vae
from tests.test_web_forward import RUN, browser, js_page  # noqa: F401 (fixtures)

TOL = 1e-4
MODELS = {  # each as explorer.from_torch reads it
    "pytorch-examples": lambda: from_torch(examples_vae(), image_shape=(1, 28, 28), encoder_output="mean_logvar",
                                           likelihood="bernoulli_probs"),
    "keras-style-conv": lambda: from_torch(*keras_style_vae(), image_shape=(1, 28, 28), encoder_output="mean_logvar",
                                           likelihood="bernoulli_probs"),
    "matmul-chunk": lambda: from_torch(matmul_vae(), image_shape=(1, 6, 6), encoder_output="mean_logstd",
                                       likelihood="bernoulli_logits"),
    "channels-last": lambda: from_torch(*channels_last_vae(), image_shape=(3, 8, 8), encoder_output="mean_std",
                                        likelihood="gaussian_mean_logvar", layout="nhwc"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_an_imported_model_packs_into_numbers(name: str) -> None:
    model = MODELS[name]()
    assert unsupported(model) is None
    header, data = read(pack(model))
    m = header["model"]
    assert m["latent"] == model.latent_dim and m["image"] == list(model.card.image_shape)
    assert m["spread"] == ops.SPREAD_CODES[model.card.encoder_output]
    assert m["out"] == (ops.OUT_SIGMOID if model.card.likelihood == "bernoulli_logits" else ops.OUT_CLAMP)
    assert len(read(pack(model, encoder=False))[1]) < len(data)  # the map's blob: the decoder alone


def test_two_linear_heads_become_one_layer() -> None:
    enc = read(pack(MODELS["pytorch-examples"]()))[0]["model"]["encoder"]
    assert [op[:3] for op in enc] == [[ops.OP_LINEAR, 784, 400], [ops.OP_ACT, ops.ACT_CODES["relu"]],
                                      [ops.OP_LINEAR, 400, 40]]  # fc21 and fc22: [mu, logvar]


class _Upsampling(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(nn.functional.interpolate(z.view(-1, 1, 2, 2), scale_factor=14.0))


class _SoftplusHead(nn.Module):
    """A mean and a softplus standard deviation: the second head is not one linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(784, 4), nn.Linear(784, 4)

    def forward(self, x: torch.Tensor):
        x = x.flatten(1)
        return self.a(x), nn.functional.softplus(self.b(x))


def _dense(n_in: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, 8))


@pytest.mark.parametrize("encoder, decoder, convention, reason", [
    (lambda: _dense(784), _Upsampling, "mean_logvar", "the decoder's graph: no Resize operator in the page"),
    (_SoftplusHead, None, "mean_std", "the encoder's graph: its two outputs are not two linear layers"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), _dense(2 * 24 * 24)), None, "mean_logvar",
     "the encoder's graph: a Conv with dilations [2, 2]"),
], ids=["resize", "softplus-head", "dilation"])
def test_a_graph_the_page_cannot_run_says_why_in_one_line(encoder, decoder, convention: str, reason: str) -> None:
    torch.manual_seed(0)
    dec = decoder() if decoder else nn.Sequential(nn.Linear(4, 784), nn.Sigmoid())
    model = from_torch(encoder(), dec, image_shape=(1, 28, 28), encoder_output=convention,
                       likelihood="bernoulli_probs")
    why = unsupported(model)
    assert why is not None and reason in why and "\n" not in why and why.startswith("the page cannot run"), why
    assert unsupported(model) == why  # read once, kept


def reference(model, z: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the page should show, from onnxruntime on the model's own ONNX bytes: the decoded mean (C*H*W) and
    the encoder's mu and sigma under the card's conventions."""
    import onnxruntime as ort

    c, (enc_g, dec_g) = model.card, graphs_of(model)
    C, H, W = c.image_shape
    dec = ort.InferenceSession(dec_g).run(None, {"input": z})[0]
    if c.layout == "nhwc" and dec.ndim == 4:
        dec = dec.transpose(0, 3, 1, 2)
    dec = dec.reshape(len(z), -1)[:, :C * H * W]
    mean = 1 / (1 + np.exp(-dec)) if c.likelihood == "bernoulli_logits" else np.clip(dec, 0, 1)
    xin = {"flat": x.reshape(len(x), -1), "nchw": x, "nhwc": x.transpose(0, 2, 3, 1)}[c.layout]
    outs = [o.reshape(len(x), -1) for o in ort.InferenceSession(enc_g).run(None, {"input": xin})]
    mu, second = (outs[0], outs[1]) if len(outs) > 1 else np.split(outs[0], 2, axis=1)
    sigma = {"mean_logvar": lambda h: np.exp(0.5 * h), "mean_logstd": np.exp, "mean_std": lambda h: h}[
        c.encoder_output](second)
    return mean, mu, sigma


@pytest.mark.browser
@pytest.mark.parametrize("name", list(MODELS))
def test_an_imported_model_in_the_page_matches_onnxruntime(js_page, name: str) -> None:  # noqa: F811
    model = MODELS[name]()
    g = torch.Generator().manual_seed(0)
    z = (2 * torch.randn(50, model.latent_dim, generator=g)).numpy()
    x = torch.rand(20, *model.card.image_shape, generator=g).numpy()
    got = js_page.evaluate(RUN, [base64.b64encode(pack(model)).decode(), z.tolist(), x.reshape(20, -1).tolist()])
    mean, mu, sigma = reference(model, z, x)
    assert np.abs(np.array(got["dec"]) - mean).max() <= TOL
    assert np.abs(np.array([e[0] for e in got["enc"]]) - mu).max() <= TOL
    assert np.abs(np.array([e[1] for e in got["enc"]]) - sigma).max() <= TOL
    dec_only = js_page.evaluate(RUN, [base64.b64encode(pack(model, encoder=False)).decode(), z[:5].tolist(), []])
    assert np.abs(np.array(dec_only["dec"]) - mean[:5]).max() <= TOL  # what the map and the sliders get
