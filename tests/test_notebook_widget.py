"""The notebook widget (explorer.widget). Without a browser: what it is sent (the map, the sliders, the pad), what
it takes back (checked as the app checks it), and that setting `chosen` from Python moves the star. In JupyterLab
(a headless server started here, driven by Playwright in Chromium): the widget renders; its decodes and encodes
agree with torch to 1e-4 for a native and an imported model; hovering decodes with no kernel message per move; a
click, a box and "Use it" reach the kernel; `w.chosen = 42` in the kernel moves the star in the page.
Screenshot: artifacts/screenshots/notebook.png, with UPDATE_SCREENSHOTS=1 also docs/screenshots/."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.notebook.prepare import prepare, star
from explorer.web.payload import read

anywidget = pytest.importorskip("anywidget", reason="the widget needs anywidget (pip install -r requirements.txt)")


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    """An untrained 2-D VAE on 12x10 images, 50 byte images and their labels."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 12, 10), hidden=(16,)))
    rng = np.random.default_rng(0)
    return model, rng.integers(0, 256, (50, 12, 10), dtype=np.uint8), rng.integers(0, 3, 50)


def test_prepare_maps_the_given_images_and_packs_three_blobs(tiny) -> None:
    from explorer.notebook.prepare import draw_blob, map_blob, sliders_blob

    model, x, y = tiny
    model.train()
    p = prepare(model, x, y)
    assert model.training  # encoded in eval mode, handed back in its own
    assert p.x.shape == (50, 1, 12, 10) and float(p.x.max()) <= 1.0  # bytes became grey levels
    assert p.proj.key == "axes" and np.allclose(p.coords, p.enc.mean, atol=1e-6)  # a 2-D latent is its own map
    header, _ = read(map_blob(p, 400))
    assert header["height"] == 400 and header["arrays"]["coords"][1:] == [50, 2] and "thumbs_z" in header["arrays"]
    assert header["tiles"] == 1 and read(map_blob(p, 400, "decoded"))[0]["tiles"] == 2  # payload.TILE_SOURCES
    assert not header["model"]["encoder"] and read(draw_blob(p))[0]["model"]["encoder"]  # only the pad encodes
    assert read(sliders_blob(p, 7, 3))[0]["version"] == 3
    assert star(p, 7)[:2] == pytest.approx(p.coords[7].tolist()) and star(p, None) == []
    assert star(p, [0.5, -1.0]) == [0.5, -1.0, 0.0, 0.0, 0.0]


def test_images_of_the_wrong_size_or_a_model_without_data_get_one_line(tiny) -> None:
    model, x, _ = tiny
    with pytest.raises(ValueError, match="the model takes 1x12x10"):
        prepare(model, np.zeros((5, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"explorer.widget\(model, images=...\)"):
        prepare(model)  # names no data set
    with pytest.raises(ValueError, match="labels"):
        prepare(model, x, np.arange(3))
    from explorer import widget

    with pytest.raises(ValueError, match="tiles must be one of"):
        widget(model, x, tiles="thumbnails")


def test_the_widget_checks_what_comes_back_and_chosen_moves_the_star(tiny) -> None:
    import traitlets

    from explorer import widget

    model, x, y = tiny
    w = widget(model, torch.from_numpy(x), y, height=300)
    assert w.chosen is None and w.z is None and w._star == []
    w.chosen = np.int64(7)  # from Python, as the page sends a click: the star and the sliders' start follow
    assert w.chosen == 7 and w._star[:2] == pytest.approx(w._p.coords[7].tolist())
    assert torch.equal(w.z, torch.from_numpy(w._p.enc.mean[7]))
    assert read(w._sliders)[0]["version"] == 1
    w.chosen = [0.25, -0.5]  # a z clicked on empty space
    assert w._star == [0.25, -0.5, 0.0, 0.0, 0.0] and w.z.tolist() == [0.25, -0.5]
    for bad in (50, -1, True, "3", [1.0], [float("nan"), 0.0]):
        with pytest.raises(traitlets.TraitError):
            w.chosen = bad
    w.selection = [9, 3, 3]
    assert w.selection == [3, 9]
    with pytest.raises(traitlets.TraitError):
        w.selection = [50]
    w._drawing = {"pixels": [0.5] * 119 + [2.0], "inverted": False, "nonce": 1}
    assert w.drawing.shape == (1, 12, 10) and float(w.drawing.max()) == 1.0
    with pytest.warns(UserWarning, match="expected 120 pixels"):
        w._drawing = {"pixels": [0.5], "nonce": 2}
    assert w.drawing.shape == (1, 12, 10)  # the last good drawing stays


def test_import_explorer_does_not_import_anywidget() -> None:
    import subprocess
    import sys

    code = "import sys, explorer; assert 'anywidget' not in sys.modules and 'ipywidgets' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
