"""The Latent map's points, driven headlessly with AppTest: the test split stays the default; the training split or
both are a choice, with how many points; a training point shows a training image; a second session does not encode
again; a split not on the server, a slow projection past its bound, and an uploaded codes file that is not this
model's are each a message while the map keeps the test split. Tiny untrained models of scikit-learn's digits
(359 test and 1,438 training images, in the package) keep it fast; MNIST's 70,000 when its files are here."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.cli import main
from explorer.data.ref import DatasetRef
from explorer.data.registry import load_dataset
from explorer.data.splits import load_split
from explorer.model.encoding import encode
from explorer.store import map_cache
from explorer.store.checkpoint import load_model, save_model
from explorer.ui.state import map_points
from tests.test_app import MNIST, REPO, TIMEOUT, array, image_by_caption, map_payload, ok, tiny

DIGITS = {"name": "digits", "image_shape": [1, 8, 8], "train_size": 1438, "test_size": 359,
          "classes": [str(i) for i in range(10)]}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("trained")
    meta = dict(train_config={"binarize": "auto"}, status="finished", history={"epochs": [{"epoch": 1}]})
    save_model(tiny("vae", 2, shape=(1, 8, 8)), d / "a_digits2.safetensors", dataset=DIGITS, **meta)
    save_model(tiny("vae", 2, seed=5, shape=(1, 8, 8)), d / "b_digits2_other.safetensors", dataset=DIGITS, **meta)
    save_model(tiny("vae", 3, seed=6, shape=(1, 8, 8)), d / "c_digits3.safetensors", dataset=DIGITS, **meta)
    save_model(tiny("vae", 20, seed=7, shape=(1, 8, 8)), d / "d_digits20.safetensors", dataset=DIGITS, **meta)
    save_model(tiny("vae", 2, seed=8), d / "e_mnist2.safetensors", dataset=MNIST, **meta)
    return d


@pytest.fixture
def app(trained, tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(trained))
    monkeypatch.setenv("EXPLORER_DEFAULT_MODEL", "a_digits2")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    return ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())


def coords(at: AppTest) -> np.ndarray:
    return array(map_payload(at), "coords")


def points(at: AppTest, choice: str) -> AppTest:
    return ok(at.radio(key="map_points").set_value(choice).run())


def warnings(at: AppTest) -> str:
    """The warnings as a reader sees them (file-derived words in them are backslash-escaped Markdown)."""
    return re.sub(r"\\(.)", r"\1", " ".join(w.value for w in at.main.warning))


def scored_both(path: Path) -> tuple[torch.nn.Module, torch.Tensor]:
    model = load_model(path).eval()
    return model, load_split(DatasetRef.of(model), "both").x


def test_the_test_split_stays_the_default(app):
    assert app.radio(key="map_points").value == "test"
    assert coords(app).shape == (359, 2) and image_by_caption(app, "test image 0")
    assert "359 digits test images" in app.main.caption[0].value


def test_both_splits_a_count_and_a_training_point_shows_a_training_image(app, trained):
    points(app, "both")
    model, x = scored_both(trained / "a_digits2.safetensors")
    np.testing.assert_allclose(coords(app), encode(model, x).mean, atol=1e-5)  # a 2-D latent is its own map
    assert "1,797 digits images of both splits (test, then training)" in app.main.caption[0].value
    slider = app.select_slider(key="map_n_axes@digits@both")
    assert slider.options == ["500", "1000", "1797"] and slider.value == 1797
    ok(slider.set_value(500).run())
    assert coords(app).shape == (500, 2)
    ok(app.select_slider(key="map_n_axes@digits@both").set_value(1797).run())
    ok(app.number_input(key="map_index").set_value(359 + 3).run())
    train3 = load_dataset("digits").train_x[3]
    header, _ = map_payload(app)
    assert header["selected_xy"] == pytest.approx(encode(model, x[359 + 3:359 + 4]).mean[0].tolist(), abs=1e-5)
    assert image_by_caption(app, "training image 3 (label")
    assert "training image as the likelihood sees it" in " ".join(c.value for c in app.main.caption)
    assert not [b for b in app.main.button if b.key == "use_as_a"]  # Interpolate takes test images only
    points(app, "train")
    assert coords(app).shape == (1438, 2) and image_by_caption(app, "training image 0")
    points(app, "test")
    assert coords(app).shape == (359, 2) and app.session_state["selected_index"] == 0  # the test choice kept
    assert torch.equal(train3, load_dataset("digits").train_x[3])


def test_a_second_session_does_not_encode_again(app, trained, monkeypatch):
    points(app, "both")
    before = map_points._ENCODINGS.computed
    monkeypatch.setattr(map_cache, "encode_sharded", lambda *a, **k: pytest.fail("encoded again"))
    second = ok(AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT).run())
    points(second, "both")
    assert coords(second).shape == (1797, 2) and map_points._ENCODINGS.computed == before


def test_a_training_split_not_on_the_server_is_a_message(app, tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    ok(app.sidebar.selectbox(key="bundled_name").set_value("e_mnist2").run())
    points(app, "train")
    assert "not on this server" in warnings(app) and "EXPLORER_DATA_DIR" in warnings(app)
    assert coords(app).shape == (10000, 2)  # the test split, as before


def test_a_slow_projection_is_bounded(app, monkeypatch):
    from explorer.latent import map as latent_map

    monkeypatch.setitem(latent_map.MAX_POINTS, "tsne", 1000)
    ok(app.sidebar.selectbox(key="bundled_name").set_value("d_digits20").run())
    points(app, "both")
    ok(app.selectbox(key="map_method").set_value("tsne").run())
    slider = app.select_slider(key="map_n_tsne@digits@both")
    assert slider.options[-1] == "1000" and slider.value == 1000
    assert any("t-SNE maps at most 1,000 of the 1,797 points" in c.value for c in app.main.caption)
    assert coords(app).shape == (1000, 2)


def test_a_mnist_map_of_both_splits_has_70000_points(app, mnist_dir, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(mnist_dir))
    ok(app.sidebar.selectbox(key="bundled_name").set_value("e_mnist2").run())
    points(app, "both")
    assert coords(app).shape == (70000, 2) and not app.main.warning
    ok(app.number_input(key="map_index").set_value(69999).run())
    assert image_by_caption(app, "training image 59999 (label")


# -- codes files -------------------------------------------------------------------------------------
def encoded(path: Path, tmp_path: Path, split: str = "both") -> bytes:
    out = tmp_path / f"{path.stem}.npz"
    assert main(["encode", str(path), "--split", split, "--out", str(out), "--quiet"]) == 0
    return out.read_bytes()


def upload(at: AppTest, raw: bytes, name: str = "codes.npz") -> AppTest:
    if at.radio(key="map_points").value != "codes":
        points(at, "codes")
    return ok(at.file_uploader(key="map_codes").set_value((name, raw, "application/octet-stream")).run())


def test_an_uploaded_codes_file_is_the_maps_points(app, trained, tmp_path):
    raw = encoded(trained / "a_digits2.safetensors", tmp_path)
    points(app, "codes")
    assert coords(app).shape == (359, 2)  # nothing uploaded yet: the test split
    upload(app, raw)
    with np.load(io.BytesIO(raw)) as f:
        assert not app.main.warning and np.array_equal(coords(app), f["mean"])
    ok(app.number_input(key="map_index").set_value(359 + 7).run())
    assert image_by_caption(app, "training image 7 (label")


@pytest.mark.parametrize("bad, said", [
    ("junk", "junk.npz is not a codes file"),
    ("c_digits3", "does not fit this model: latent size 3 in the file, 2 in the model"),
    ("e_mnist2", "data set mnist in the file, digits for the model"),
    ("b_digits2_other", "written by checkpoint b_digits2_other.safetensors"),
    ("nan", "is damaged"),
])
def test_a_codes_file_that_is_not_this_models_is_a_message(app, trained, tmp_path, bad, said):
    if bad == "junk":
        raw, name = b"PK\x03\x04 not really a zip", "junk.npz"
    elif bad == "nan":
        raw, name = encoded(trained / "a_digits2.safetensors", tmp_path), "nan.npz"
        with np.load(io.BytesIO(raw)) as f:
            members = {k: f[k] for k in f.files}
        members["mean"][5, 1] = np.nan
        buf = io.BytesIO()
        np.savez(buf, **members)
        raw = buf.getvalue()
    else:
        raw, name = encoded(trained / f"{bad}.safetensors", tmp_path, "test"), f"{bad}.npz"
    upload(app, raw, name)
    assert said in warnings(app) and "The map shows the test split" in warnings(app)
    assert coords(app).shape == (359, 2)
    assert json.dumps(warnings(app)).count("\\n") == 0  # one line each


def test_an_upload_no_session_uses_takes_its_split_encodings_with_it():
    """Issue 25: a model is dropped with its encodings when its last session ends; the map's split encodings too."""
    from explorer.ui.state import session_end

    mine, other = ("upload:abc:cpu", "digits@both"), ("bundled:f:1:cpu", "digits@both")
    for key in (mine, other):
        map_points._ENCODINGS._work.get(key, lambda p: "an encoding")
    session_end.forget("upload:abc:cpu")
    assert map_points._ENCODINGS.peek(mine) is None and map_points._ENCODINGS.peek(other) == "an encoding"
    map_points._ENCODINGS.drop(lambda k: k == other)


def test_a_split_encoding_over_the_memory_budget_is_refused_before_it_runs(app, monkeypatch):
    """Issue 25: every request that allocates is held to the budget; the map's training and both splits too."""
    from explorer.store.request_memory import RequestEstimate
    from explorer.ui.state import caches

    from explorer.jobs.map_points import SplitEncodings

    monkeypatch.setattr(map_points, "_ENCODINGS", SplitEncodings(4))  # none held from an earlier test's choice
    real = caches.encoding_estimate
    monkeypatch.setattr(caches, "encoding_estimate", lambda m, n: RequestEstimate(
        f"encoding {n:,} images", 10**15, "as a test asks") if n > 1000 else real(m, n))
    before = map_points._ENCODINGS.computed
    app.radio(key="map_points").set_value("both").run()
    assert not app.exception, [e.value for e in app.exception]
    said = [re.sub(r"\\(.)", r"\1", e.value) for e in app.error]  # as a reader sees the Markdown
    assert any("encoding 1,797 images would need" in e and "budget" in e for e in said), said
    assert map_points._ENCODINGS.computed == before
