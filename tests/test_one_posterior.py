"""One image, one posterior (issue 12, item 3). mnist_vae2 trained on binarized pixels, so its ELBO and log p(x)
are of a test image binarized by the trainer's rule; the map once placed and described the same image by q(z|x)
of its grey levels, a median 0.67 posterior sigma away. Now the map's star and chosen-image panel, the maths
page, the decoder sliders' start, Interpolate's ends and the lesson show the same q(z|x): of the image the
likelihood scores."""
from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import load_model
from explorer.data.ref import DatasetRef, load_test_set
from explorer.model.encoding import encode
from tests.test_app import REPO, TIMEOUT, array, charts, goto, map_payload, ok, payloads, values  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

MODEL = REPO / "trained" / "mnist_vae2.safetensors"


def far_apart_image(model) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """A test image whose grey and binarized posteriors differ most (of the first 1,000): its index, the
    binarized image's q(z|x) (mean, std) and the grey image's mean."""
    test_x = load_test_set("mnist").test_x
    scored = encode(model, DatasetRef.of(model).scored(test_x)[:1000])  # binarize all, then take the first 1,000
    grey = encode(model, test_x[:1000])
    i = int(np.argmax(np.max(np.abs(grey.mean - scored.mean) / scored.std, axis=1)))
    return i, scored.mean[i], scored.std[i], grey.mean[i]


def panel_posterior(at: AppTest) -> tuple[np.ndarray, np.ndarray]:
    """The (mean, std) rows of the map's chosen-point panel."""
    table = next(m.value for m in at.main.markdown if "**posterior mean μ**" in m.value)
    rows = {r.split("|")[1].strip(" *"): np.array([float(v) for v in r.split("|")[2:-1]])
            for r in table.splitlines()[2:]}  # explorer/ui/widgets/number_table.py: 4 decimals
    return rows["posterior mean μ"], rows["posterior std σ"]


def test_the_map_the_maths_page_the_decoder_interpolate_and_the_lesson_share_one_posterior(monkeypatch) -> None:
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(REPO / "trained"))
    model = load_model(MODEL)
    i, mu_want, sigma_want, mu_grey = far_apart_image(model)
    assert np.max(np.abs(mu_grey - mu_want) / sigma_want) > 1  # the grey image's posterior would be caught

    at = ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())
    assert at.sidebar.selectbox(key="bundled_name").value == "mnist_vae2"
    ok(at.number_input(key="map_index").set_value(i).run())
    mu, sigma = panel_posterior(at)
    np.testing.assert_allclose(mu, mu_want, atol=5e-5)  # the binarized image's q(z|x), from the core (as shown)
    np.testing.assert_allclose(sigma, sigma_want, atol=5e-5)
    header, _ = map_payload(at)  # the star and its ellipse on the map (a 2-D latent: z itself), unrounded
    mu = np.asarray(header["selected_xy"], np.float32)
    sigma = np.sqrt(np.asarray(header["selected_cov"])[[0, 3]]).astype(np.float32)
    assert header["selected_cov"][1:3] == [0, 0]
    np.testing.assert_allclose(mu, mu_want, atol=1e-5)
    np.testing.assert_allclose(sigma, sigma_want, atol=1e-6)
    assert array(map_payload(at), "coords")[i].tolist() == mu.tolist()  # the dot itself

    ok(at.button(key="to_decoder").click().run())
    ok(at.button(key="use_as_a").click().run())
    goto(at, "decoder")
    assert at.radio(key="dec_start").value == "image" and at.number_input(key="dec_index").value == i
    z0 = array(next(p for p in payloads(at) if "version" in p[0]), "z0")
    assert z0.tolist() == mu.tolist()

    goto(at, "interpolate")
    assert at.number_input(key="idx_A").value == i
    ends = next(t for fig in charts(at) for t in fig["data"] if t.get("name") == "A, B")
    assert [values(ends["x"])[0], values(ends["y"])[0]] == mu.tolist()

    goto(at, "maths")
    assert at.number_input(key="maths_index").value == i  # it opens on the map's image
    shown = next(c.value for c in at.main.caption if c.value.startswith("μ = "))
    assert shown.startswith("μ = " + ", ".join(f"{v:.2f}" for v in mu) + "   σ = "
                            + ", ".join(f"{v:.3f}" for v in sigma))
    assert {m.label: m.value for m in at.main.metric}["mean σ of q(z|x)"] == f"{sigma.mean():.3f}"

    goto(at, "lesson")
    assert at.number_input(key="lesson_index").value == i
    said = " ".join(m.value for m in at.main.markdown)
    want = (f"μ = ({', '.join(f'{v:.2f}' for v in mu)}) and σ = ({', '.join(f'{v:.3f}' for v in sigma)})")
    assert want in said, re.findall(r"μ = \([^)]*\)[^.]*", said)


def test_a_drawing_has_one_posterior_on_the_map_panel_and_the_maths_page(monkeypatch) -> None:
    """"Use it" shows the drawing's q(z|x) beside the map; the maths page scores the drawing binarized by the
    test images' rule, and both show q(z|x) of that one image."""
    import torch

    from explorer.ui.state import selection

    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(REPO / "trained"))
    model = load_model(MODEL)
    x = torch.zeros(1, 28, 28)
    x[0, 6:22, 12:16] = 1.0  # a "1" with grey edges, which binarizing changes
    x[0, 6:22, 11] = x[0, 6:22, 16] = 0.5
    q = encode(model, DatasetRef.of(model).scored(x[None]))
    at = ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())
    at.session_state["drawn_image"], at.session_state["drawn_caption"] = x, "your drawing"
    at.session_state[selection.SHOWS_DRAWING] = True  # as "Use it" leaves it
    ok(at.run())
    mu, sigma = panel_posterior(at)
    np.testing.assert_allclose(mu, q.mean[0], atol=5e-5)
    np.testing.assert_allclose(sigma, q.std[0], atol=5e-5)
    goto(at, "maths")
    ok(at.radio(key="maths_src").set_value("drawing").run())
    shown = next(c.value for c in at.main.caption if c.value.startswith("μ = "))
    assert shown.startswith("μ = " + ", ".join(f"{v:.2f}" for v in mu) + "   σ = "
                            + ", ".join(f"{v:.3f}" for v in sigma))
