"""The notebook widget's codes= (without a browser): a codes.npz from `encode` is the map's points with the images
its rows name (a training image where the row says so), checked against the model as the app checks an upload;
arrays of means (and stds) go with the given images; bad codes are one-line errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import DatasetRef, load_model
from explorer.cli import main
from explorer.data.registry import load_dataset
from explorer.data.splits import load_split
from explorer.model.encoding import encode
from explorer.notebook.prepare import map_blob, prepare
from explorer.store import map_cache
from explorer.store.codes_file import CodesError, read_codes
from explorer.web.payload import read

pytest.importorskip("anywidget", reason="the widget needs anywidget (pip install -r requirements.txt)")
REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "trained" / "digits_vae2.safetensors"
MNIST = REPO / "trained" / "mnist_vae2.safetensors"
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def codes_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("codes") / "codes.npz"
    assert main(["encode", str(DIGITS), "--split", "both", "--out", str(out), "--quiet"]) == 0
    return out


def test_a_codes_file_is_the_maps_points_with_the_images_its_rows_name(codes_path, monkeypatch) -> None:
    from explorer import widget

    monkeypatch.setattr(map_cache, "encode_sharded", lambda *a, **k: pytest.fail("encoded"))
    model = load_model(DIGITS)
    w = widget(model, codes=str(codes_path))
    codes, data = read_codes(codes_path), load_dataset("digits")
    assert np.array_equal(w._p.enc.mean, codes.mean) and np.array_equal(w._p.coords, codes.mean)
    assert len(w.images) == 1797 and torch.equal(w.images[359 + 5], data.train_x[5])  # a training row's image
    assert w._p.labels.tolist() == codes.labels.tolist()
    assert read(map_blob(w._p, 300))[0]["arrays"]["coords"][1:] == [1797, 2]
    w.chosen = 359 + 5
    assert torch.equal(w.z, torch.from_numpy(codes.mean[359 + 5]))
    # the same as encoding the images the rows name
    x = load_split(DatasetRef.of(model), "both").x
    np.testing.assert_allclose(codes.mean, encode(model.eval(), x).mean, atol=1e-5)


def test_arrays_of_codes_go_with_the_given_images(codes_path) -> None:
    model = load_model(DIGITS)
    codes = read_codes(codes_path)
    images = load_dataset("digits").test_x
    p = prepare(model, images, codes=(codes.mean[:359], codes.std[:359]))
    assert np.array_equal(p.enc.std, codes.std[:359]) and p.labels is None
    p = prepare(model, codes=torch.from_numpy(codes.mean[:359]), labels=np.zeros(359, int))  # the test split
    assert (p.enc.std == 0).all() and p.labels.tolist() == [0] * 359 and len(p.x) == 359


@pytest.mark.parametrize("codes, message", [
    (np.zeros((359, 3)), r"codes must be \(N, 2\) means"),
    (np.zeros((10, 2)), "10 codes for 359 images"),
    (np.full((359, 2), np.nan), "codes must be finite numbers"),
    ((np.zeros((359, 2)), -np.ones((359, 2))), "stds must not be negative"),
    (np.array([["a", "b"]] * 359), "codes must be finite numbers"),
])
def test_bad_arrays_are_one_line(codes, message) -> None:
    with pytest.raises(ValueError, match=message):
        prepare(load_model(DIGITS), codes=codes)


def test_a_codes_file_of_another_model_or_images_names_what_differs(codes_path) -> None:
    with pytest.raises(CodesError, match="codes.npz does not fit this model: latent size 2 in the file, 50 in the "
                                         "model; data set digits in the file, mnist for the model"):
        prepare(load_model(REPO / "trained" / "mnist_vae50.safetensors"), codes=codes_path)
    with pytest.raises(ValueError, match="1,797 codes for 10 images"):
        prepare(load_model(DIGITS), load_dataset("digits").test_x[:10], codes=codes_path)
