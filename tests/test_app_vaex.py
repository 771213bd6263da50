"""Every page on a model trained elsewhere (.vaex), driven headlessly with AppTest: the sidebar lists, uploads and
describes it, each page runs without an exception, and what cannot be done (training it, the split of the gap
that needs gradients, in-page decoding until explorer/web runs ONNX) is said in a line, not a traceback. Tiny
torch VAEs on the bundled MNIST test split, through explorer.from_torch and save_model."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

import explorer
from tests.test_app import MNIST, TIMEOUT, card, charts, image_by_caption, n_points, ok, tiny

REPO = Path(__file__).resolve().parents[1]
PAGES = ["map", "decoder", "interpolate", "maths", "train", "lesson"]
HOSTILE = "![t](http://tracker.example/t.png) **bold** :red[x]"

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class MnistVAE(nn.Module):
    """encode -> (mu, logvar), decode -> logits: the pytorch/examples VAE, 16 hidden units."""

    def __init__(self, latent: int):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, 784))

    def encode(self, x):
        return self.enc(x).chunk(2, dim=-1)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 28, 28)


def imported(latent: int, seed: int = 0, dataset: str | None = "mnist"):
    torch.manual_seed(seed)
    return explorer.from_torch(MnistVAE(latent), image_shape=(1, 28, 28), encoder_output="mean_logvar",
                               likelihood="bernoulli_logits", dataset=dataset, pixels="binarized")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("trained")
    explorer.save_model(imported(2), d / "imp2.vaex")
    explorer.save_model(imported(5, seed=1), d / "imp5.vaex")
    explorer.save_model(imported(2, seed=2, dataset=None), d / "nameless.vaex")
    hostile = imported(2, seed=3)
    hostile.card = dataclasses.replace(hostile.card, source=HOSTILE)  # text from a file, shown as text
    explorer.save_model(hostile, d / "hostile.vaex")
    explorer.save_model(tiny("vae", 2), d / "vae2.safetensors", dataset=MNIST)  # a native one beside them
    explorer.save_model(tiny("vae", 2, seed=4), d / "imp2.safetensors", dataset=MNIST)  # the same stem
    return d


@pytest.fixture
def app(trained, monkeypatch) -> AppTest:
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(trained))
    monkeypatch.setenv("EXPLORER_DEFAULT_MODEL", "imp2.vaex")
    return ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())


def goto(at: AppTest, page: str) -> AppTest:
    return ok(at.switch_page(f"explorer/ui/pages/{page}.py").run())


def choose(at: AppTest, name: str) -> AppTest:
    return ok(at.sidebar.selectbox(key="bundled_name").set_value(name).run())


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.main.caption)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.main.metric}


def test_the_sidebar_lists_vaex_files_and_the_card_says_where_they_came_from(app) -> None:
    box = app.sidebar.selectbox(key="bundled_name")
    assert box.value == "imp2.vaex"  # its stem is a .safetensors' too: neither hides the other
    assert {"imp2", "imp2.vaex", "imp5", "nameless", "vae2"} <= set(box.options) | {o.split(" · ")[0] for o in box.options}
    assert any(o.startswith("imp5 · VAE · imported · latent 5 · mnist") for o in box.options)
    text = card(app)
    assert "VAE · trained elsewhere · latent **2**" in text
    assert "imported from PyTorch\nencoder output: mean_logvar\nlikelihood: bernoulli_logits" in text
    assert "image layout: nchw" in text and "activation" not in text


def test_text_from_the_file_is_shown_as_text(app) -> None:
    choose(app, "hostile")
    assert any(f"imported from {HOSTILE}" in t.value for t in app.sidebar.text)  # a text element: no Markdown
    assert not any("tracker.example" in m.value for m in app.sidebar.markdown)


@pytest.mark.parametrize("name", ["imp2.vaex", "imp5"])
def test_every_page_opens_on_an_imported_model(app, name) -> None:
    choose(app, name)
    for page in PAGES:
        at = goto(app, page)
        assert not at.main.error, (page, [e.value for e in at.main.error])


def test_the_map_runs_in_the_page_and_its_panel_and_tools_work(app) -> None:
    assert not any("The decoder runs on the server" in c for c in captions(app))  # its ONNX runs in the page
    ok(app.number_input(key="map_index").set_value(7).run())
    m = metrics(app)
    assert float(m["ELBO (nats per image)"]) < 0 and float(m["log p(x) (nats per image)"]) < 0
    assert image_by_caption(app, "test image 7")
    for tool in ("Neighbours", "Selection", "Attribute vector", "Analogy"):
        ok(app.segmented_control(key="map_tool").set_value(tool).run())
    app.session_state["map_selection"] = list(range(30))
    ok(app.segmented_control(key="map_tool").set_value("Selection").run())
    assert any("30 images selected" in md.value for md in app.main.markdown)


def test_a_check_that_raises_still_falls_back_to_the_server(app, monkeypatch) -> None:
    """While explorer/web learns to run ONNX, its check may raise for an imported model: the page says why."""
    from explorer.web import payload

    def broken(model):
        raise NotImplementedError("no ONNX yet")

    monkeypatch.setattr(payload, "unsupported", broken)
    ok(app.run())
    assert "The decoder runs on the server for this model (the page cannot run this model" in captions(app)
    assert "no ONNX yet" in captions(app)
    goto(app, "decoder")
    assert "runs on the server" in captions(app)


def test_the_decoder_sliders_decode_on_the_server_when_the_page_may_not(app, monkeypatch) -> None:
    """In the page by default (tests/test_browser_vaex.py); the server's sliders when it is turned off."""
    monkeypatch.setenv("EXPLORER_IN_PAGE", "0")
    goto(app, "decoder")
    assert "runs on the server" in captions(app)
    slider = app.slider(key="dec_s0")
    before = image_by_caption(app, "mean of p(x | z)")
    ok(slider.set_value(2.5 if slider.value < 2 else -2.5).run())
    assert image_by_caption(app, "mean of p(x | z)") != before


def test_interpolate_draws_its_strip(app) -> None:
    goto(app, "interpolate")
    assert image_by_caption(app, "A → B")
    assert "linear (lerp)" in [t.get("name") for t in charts(app)[0]["data"]]


def test_the_maths_page_gives_the_bound_log_px_with_its_unit_and_the_gap(app) -> None:
    goto(app, "maths")
    m = {k.removesuffix(" (nats per image)"): v for k, v in metrics(app).items() if k.endswith("(nats per image)")}
    elbo, recon, kl = (float(m[k]) for k in ("ELBO", "reconstruction", "KL"))
    assert elbo == pytest.approx(recon - kl, abs=0.02)
    log_px = float(m["log p(x), k = 1,000"].split(" ± ")[0])
    assert log_px >= elbo - 1 and float(m["gap"].split(" ± ")[0]) >= 0
    assert "log-probability of the binarized image" in captions(app)
    assert "amortization gap" not in m and "needs q*, found by gradient steps" in captions(app)


def test_the_lesson_walks_its_six_steps(app) -> None:
    goto(app, "lesson")
    assert len(app.main.header) == 6 and float(metrics(app)["ELBO (nats per image)"]) < 0


def test_the_train_page_says_training_is_for_models_made_here(app) -> None:
    goto(app, "train")
    assert any("was trained elsewhere: training and resuming are for models made here" in i.value
               for i in app.main.info)
    assert not app.main.get("button") or all(b.key != "train_resume" for b in app.main.button)
    choose(app, "vae2")
    assert not any("trained elsewhere" in i.value for i in goto(app, "train").main.info)


def test_a_vaex_upload_opens(app, trained) -> None:
    ok(app.sidebar.radio(key="model_source").set_value("upload").run())
    assert ".vaex" in app.sidebar.file_uploader(key="ckpt_upload").proto.label
    data = (trained / "imp5.vaex").read_bytes()
    ok(app.sidebar.file_uploader(key="ckpt_upload").set_value(("mine.vaex", data, "application/octet-stream")).run())
    assert not app.sidebar.error and "mine.vaex" in card(app) and "latent **5**" in card(app)
    goto(app, "maths")
    assert "ELBO (nats per image)" in metrics(app)


def test_a_model_naming_no_data_set_says_how_to_name_one(app) -> None:
    choose(app, "nameless")
    text = " ".join(w.value for w in app.main.warning)
    assert re.search(r"import-onnx --dataset", text.replace("\\", "")), text
    goto(app, "decoder")  # the decoder needs no images
    assert not app.exception


def test_a_vaex_in_the_saves_folder_is_listed(trained, tmp_path, monkeypatch) -> None:
    saves = tmp_path / "saved"
    explorer.save_model(imported(2, seed=5), saves / "theirs.vaex")
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(trained))
    monkeypatch.setenv("EXPLORER_SAVES_DIR", str(saves))
    at = ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())
    ok(at.sidebar.radio(key="model_source").set_value("saved").run())
    assert at.sidebar.selectbox(key="saved_name").value == "theirs"
    assert "VAE · trained elsewhere" in card(at) and "theirs" in card(at)
