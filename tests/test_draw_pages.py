"""The pages that take a drawing from st.session_state (put there by explorer/ui/widgets/draw_panel.py's "Use it"),
driven headlessly with AppTest on a tiny untrained MNIST VAE; and the checks on what the browser sends."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.browser_harness import REPO


@pytest.fixture(scope="module")
def tiny_trained(tmp_path_factory) -> Path:
    from explorer.store.checkpoint import save_model
    from explorer.model.config import ModelConfig
    from explorer.model.latent_model import build_model

    d = tmp_path_factory.mktemp("trained")
    mnist = {"name": "mnist", "image_shape": [1, 28, 28], "train_size": 60000, "test_size": 10000,
             "classes": [str(i) for i in range(10)]}
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 28, 28), latent_dim=2, kind="vae", hidden=(16,))).eval()
    save_model(model, d / "vae2.safetensors", dataset=mnist, train_config={"binarize": "auto"},
               status="finished", history={"epochs": [{"epoch": 1}]}, metrics={})
    return d


@pytest.fixture
def app(tiny_trained, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(tiny_trained))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one small image's work: see tests/conftest.py's one_thread
    try:
        yield _ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300).run())
    finally:
        torch.set_num_threads(threads)


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _page(at, page: str):
    return _ok(at.switch_page(f"explorer/ui/pages/{page}.py").run())


def _drawing() -> torch.Tensor:
    x = torch.zeros(1, 28, 28)
    x[0, 6:22, 12:16] = 1.0  # a "1"
    x[0, 6:9, 9:14] = 0.6
    return x


def _captions(at) -> list[str]:
    return [c for img in at.main.image for c in img.captions]


def test_interpolate_takes_the_drawing_or_says_where_to_make_one(app) -> None:
    _page(app, "interpolate")
    _ok(app.radio(key="src_B").set_value("drawing").run())
    assert any("Draw one on the Latent map" in i.value for i in app.main.info)
    assert not any("A → B" in c for c in _captions(app))  # nothing to interpolate to yet
    app.session_state["drawn_image"] = _drawing()
    app.session_state["drawn_caption"] = "your drawing (inverted)"
    _ok(app.run())
    assert not app.main.info
    assert "your drawing (inverted)" in _captions(app) and any("A → B" in c for c in _captions(app))
    app.session_state["drawn_image"] = torch.zeros(1, 20, 28)  # made for another model's image size
    _ok(app.run())
    assert any("Draw one on the Latent map" in i.value for i in app.main.info)


def test_maths_page_runs_its_numbers_on_the_drawing(app, tiny_trained) -> None:
    _page(app, "maths")
    on_test = {m.label.removesuffix(" (nats per image)"): m.value for m in app.main.metric}
    _ok(app.radio(key="maths_src").set_value("drawing").run())
    assert any("Draw a digit on the Latent map" in i.value for i in app.main.info) and not app.main.metric
    app.session_state["drawn_image"] = _drawing()
    app.session_state["drawn_caption"] = "your drawing"
    _ok(app.run())
    assert "your drawing (as the likelihood sees it: binarized images)" in _captions(app)  # a Bernoulli model: as test images
    on_drawing = {m.label.removesuffix(" (nats per image)"): m.value for m in app.main.metric}
    assert {"ELBO", "KL", "amortization gap", "log p(x), k = 1,000"} <= set(on_drawing)
    assert on_drawing["ELBO"] != on_test["ELBO"]
    elbo, recon, kl = (float(on_drawing[k]) for k in ("ELBO", "reconstruction", "KL"))
    assert elbo == pytest.approx(recon - kl, abs=0.02)
    # the bound of the drawing binarized as the test images are (the trainer's fixed seed), not of its greys
    from explorer import load_model
    from explorer.data.ref import DatasetRef
    from explorer.evaluation import bound_terms

    model = load_model(tiny_trained / "vae2.safetensors")
    want = bound_terms(model, DatasetRef.of(model).scored(_drawing()[None]), samples=1000, seed=0)["elbo"]
    assert on_drawing["ELBO"] == f"{want:.2f}"


# -- what comes back from the browser ----------------------------------------------------------------
def test_an_image_from_the_page_is_checked_before_use() -> None:
    from explorer.web.received import clean_image

    ok = clean_image({"pixels": [0.5] * 783 + [1.5]}, (1, 28, 28))
    assert isinstance(ok, torch.Tensor) and ok.shape == (1, 28, 28) and ok.dtype == torch.float32
    assert float(ok.max()) == 1.0  # clipped
    assert "expected 784 pixels, got 3" in clean_image({"pixels": [0, 1, 0]}, (1, 28, 28))
    assert "got str" in clean_image({"pixels": "<img>"}, (1, 28, 28))
    for bad in (float("nan"), float("inf"), "0.5", True, None, [0.5]):
        assert "not finite numbers" in clean_image({"pixels": [0.0] * 783 + [bad]}, (1, 28, 28)), bad


def test_a_model_the_page_cannot_run_gets_a_caption_not_a_blank_panel(monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from explorer.ui.widgets import draw_panel

    monkeypatch.setattr(draw_panel, "unsupported", lambda model: "the page cannot run a Dropout layer")

    def script():
        from explorer.model.config import ModelConfig
        from explorer.model.latent_model import build_model
        from explorer.ui.widgets import draw_panel
        from explorer.ui.state.current_model import Current

        cur = Current(build_model(ModelConfig(hidden=(8,))), "k", "odd", "session")
        assert draw_panel.render(cur, None) is None

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [c.value for c in at.caption] == [("Drawing your own needs the model running in the page, and odd "
                                              "cannot: the page cannot run a Dropout layer.")]
