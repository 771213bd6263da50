"""The prior's holes as the page draws them, in a bare headless Chromium page (the map's own code, no app):
a hole is tinted violet under the points, a prior that q matches is not, and the wash stays on its z after a
zoom and a pan. Its key shows only with the holes."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from explorer.latent.holes import prior_holes
from explorer.latent.projection import make_projection
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.web.payload import map_payload
from tests.test_holes import gaussian
from tests.test_web_forward import browser, map_page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

PIXELS = """([b64, zs, zoomed]) => {
    const blob = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const root = document.createElement('div'); document.getElementById('host').appendChild(root);
    const map = mountMap(root); map.load(blob); const S = map.state;
    if (zoomed) {  // zoom in, then pan 0.4 to the right
        zoom(S, 1 / 1.5); S.view = { ...S.view, x0: S.view.x0 + 0.4, x1: S.view.x1 + 0.4 }; redraw(S);
    }
    const ctx = S.base.getContext('2d');
    const rgb = zs.map(([x, y]) => { const [px, py] = S.toScreen(x, y);
        return Array.from(ctx.getImageData(Math.round(px * S.r), Math.round(py * S.r), 1, 1).data).slice(0, 3); });
    const key = S.holesKeyEl && S.holesKeyEl.style.display !== 'none' ? S.holesKeyEl.textContent : null;
    root.remove();
    return { rgb, key };
}"""


def payload(q_mean: list[float] | None, q_var: float = 0.01) -> str:
    """A 2-D map whose data sits in a tight cluster at (3, 3), spanning the prior; holes against
    q = N(q_mean, q_var I) (None: no holes sent)."""
    model = build_model(ModelConfig(latent_dim=2, hidden=(8,), image_shape=(1, 6, 6)))
    mu = np.array([3.0, 3.0]) + 0.1 * np.random.default_rng(0).normal(size=(40, 2))
    mu = np.vstack([mu, [[-3.5, -3.5], [3.5, -3.5]]])  # the map's view spans the prior
    proj = make_projection("axes")
    h = None if q_mean is None else prior_holes(gaussian(q_mean, q_var * np.eye(2)), (-4.0, 4.0, -4.0, 4.0))
    return base64.b64encode(map_payload(model, proj, proj.fit_transform(mu), None, mu, holes=h)).decode()


@pytest.mark.parametrize("zoomed", [False, True])
def test_a_hole_is_tinted_and_a_covered_prior_is_not(map_page, zoomed: bool) -> None:  # noqa: F811
    middle, tail = [0.3, 0.3], [2.25, 1.75]  # p's middle; p's tail (p ~ 0), both without dots or grid lines
    far = map_page.evaluate(PIXELS, [payload([3.0, 3.0]), [middle, tail], zoomed])  # q far from the middle
    same = map_page.evaluate(PIXELS, [payload([0.0, 0.0], 1.0), [middle, tail], zoomed])  # q = p: no holes
    off = map_page.evaluate(PIXELS, [payload(None), [middle, tail], zoomed])
    r, g, b = far["rgb"][0]
    assert r < 200 and g < 190 and b > g + 20, far  # violet: 0.9 * sqrt(exp(-0.09)) of (88, 48, 150) over white
    assert far["rgb"][1][1] > g + 100, far  # p's tail: p - q ~ 0.017 p's peak, a far lighter tint
    assert same["rgb"] == off["rgb"] == [[255, 255, 255]] * 2, (same, off)
    assert far["key"] and "prior's holes" in far["key"] and off["key"] is None
