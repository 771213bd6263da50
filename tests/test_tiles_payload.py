"""What the map's blob carries for the zoomed-in tiles (map_tiles.js): the source the host asks for first, and
on a PCA map each point's own mean as float16 bytes (within their budget), so a decoded tile is the point's own
decode. The page's side is tests/test_browser_map_tiles.py."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.latent.projection import make_projection
from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.web import payload
from explorer.web.payload import TILE_SOURCES, map_payload, read


def blob(latent: int, key: str, n: int = 40, **kw) -> tuple[dict, np.ndarray, np.ndarray]:
    model = build_model(ModelConfig(latent_dim=latent, hidden=(8,), image_shape=(1, 6, 6)))
    mu = np.random.default_rng(0).normal(size=(n, latent)).astype(np.float32)
    proj = make_projection(key)
    header, data = read(map_payload(model, proj, proj.fit_transform(mu), None, mu, **kw))
    return header, data, mu


def halves(header: dict, data: np.ndarray, count: int) -> np.ndarray:
    off, words = header["arrays"]["mu16"]
    return np.frombuffer(data[off:off + words].tobytes(), "<f2")[:count]


def test_a_pca_map_carries_each_points_mean_as_float16() -> None:
    header, data, mu = blob(5, "pca")
    np.testing.assert_array_equal(halves(header, data, mu.size), mu.astype("<f2").ravel())
    assert header["tiles"] == TILE_SOURCES["decoded"]  # no images in this blob: the decoded means first


def test_the_2d_axes_are_the_means_and_a_nearest_map_has_them_as_float32() -> None:
    header, _, _ = blob(2, "axes")
    assert "mu16" not in header["arrays"] and "mu" not in header["arrays"]  # the coordinates are the means
    assert "mu16" not in blob(5, "tsne", n=60)[0]["arrays"]  # t-SNE's map sends mu itself


def test_means_over_their_budget_or_beyond_float16_are_left_out(monkeypatch) -> None:
    monkeypatch.setattr(payload, "MAX_MEAN_BYTES", 2 * 5 * 40 - 1)
    assert "mu16" not in blob(5, "pca")[0]["arrays"]
    monkeypatch.undo()
    assert payload.half_words(np.array([1.0, 7e4], np.float32), 100) is None  # float16 stops at 65504


def test_the_source_asked_for_first() -> None:
    thumbs = np.zeros((40, 1, 6, 6), np.float32)
    assert blob(2, "axes", thumbs=thumbs)[0]["tiles"] == TILE_SOURCES["image"]
    assert blob(2, "axes", thumbs=thumbs, tiles="dots")[0]["tiles"] == TILE_SOURCES["dots"]
    with pytest.raises(ValueError, match="tiles must be one of dots, image, decoded"):
        blob(2, "axes", tiles="pictures")
