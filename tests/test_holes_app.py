"""The Latent map's "Show the prior's holes" toggle under AppTest: off by default, and the map's payload
carries the grid (the core's answer for the cached mixture) only when it is on; an AE and a 20-D VAE say why
it is not offered."""
import numpy as np
import pytest

from explorer.latent.holes import extent, prior_holes
from explorer.ui.map.holes import TOGGLE_KEY
from explorer.ui.state import caches
from tests import test_app as base
from tests.test_app import array, choose, map_payload, ok

trained, app = base.trained, base.app  # the AppTest fixtures of test_app.py
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_the_toggle_puts_the_holes_in_the_payload(app) -> None:
    header, _ = map_payload(app)
    assert app.toggle(key=TOGGLE_KEY).value is False
    assert "holes" not in header["arrays"] and "holes_extent" not in header
    ok(app.toggle(key=TOGGLE_KEY).set_value(True).run())
    payload = map_payload(app)
    header = payload[0]
    rows, cols = header["holes_grid"]
    got = np.frombuffer(array(payload, "holes").tobytes(), np.uint8)[:rows * cols].reshape(rows, cols)
    cur = app.session_state["_explorer_current"]
    coords = array(payload, "coords")
    want = prior_holes(caches.mixture(cur.model, cur.key, "mnist", 10), extent(coords))
    np.testing.assert_array_equal(got, want.alpha)
    np.testing.assert_allclose(header["holes_extent"], want.extent, rtol=1e-6)
    assert header["holes_mass"] == pytest.approx(want.mass)
    assert any("the prior's holes" in c.value for c in app.main.caption)
    ok(app.toggle(key=TOGGLE_KEY).set_value(False).run())
    assert "holes" not in map_payload(app)[0]["arrays"]


@pytest.mark.parametrize("name, why", [("ae2", "autoencoder has no prior"), ("vae20", "20 dimensions")])
def test_not_offered_without_a_prior_or_above_2d(app, name: str, why: str) -> None:
    choose(app, name)
    assert not [t for t in app.toggle if t.key == TOGGLE_KEY]
    assert any(why in c.value for c in app.main.caption), [c.value for c in app.main.caption]
