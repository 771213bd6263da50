"""The prior's holes against cases with exact answers: q == p leaves none; q far from the origin leaves the
whole prior uncovered, shaded in proportion to p."""
import math

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from explorer.latent.holes import GRID, cell_centres, extent, log_prior, prior_holes


def gaussian(mean, cov) -> GaussianMixture:
    """A one-component 'fitted' mixture N(mean, cov), set by hand."""
    gmm = GaussianMixture(1, covariance_type="full")
    cov = np.asarray([cov], np.float64)
    gmm.weights_, gmm.means_, gmm.covariances_ = np.ones(1), np.asarray([mean], np.float64), cov
    gmm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(cov))
    return gmm


def test_log_prior_is_the_standard_normal():
    z = np.array([[0.0, 0.0], [1.0, -2.0], [0.3, 0.4]])
    want = torch.distributions.Normal(0.0, 1.0).log_prob(torch.tensor(z)).sum(1).numpy()
    np.testing.assert_allclose(log_prior(z), want, rtol=1e-12)


def test_cells_are_in_image_order_and_cover_the_extent():
    z = cell_centres((-1.0, 3.0, 0.0, 2.0), 4).reshape(4, 4, 2)
    np.testing.assert_allclose(z[0, 0], [-0.5, 1.75])  # top-left: smallest z1, largest z2
    np.testing.assert_allclose(z[-1, -1], [2.5, 0.25])


def test_extent_holds_the_prior_and_the_points():
    assert extent(np.zeros((0, 2))) == (-3.5, 3.5, -3.5, 3.5)
    x0, x1, y0, y1 = extent(np.array([[0.0, 0.0], [10.0, 1.0]]))
    assert (x0, y0, y1) == (-3.5, -3.5, 3.5) and x1 == pytest.approx(10.5)


def test_no_holes_when_q_is_the_prior():
    h = prior_holes(gaussian([0, 0], np.eye(2)), extent(np.zeros((0, 2))))
    assert h.alpha.shape == (GRID, GRID) and h.alpha.dtype == np.uint8
    assert h.alpha.max() == 0 and h.mass < 1e-9


def test_a_narrow_q_far_away_leaves_the_whole_prior_uncovered():
    ext = (-4.0, 4.0, -4.0, 4.0)
    h = prior_holes(gaussian([3, 3], 0.01 * np.eye(2)), ext, n=80)
    z = cell_centres(ext, 80)
    near = np.argmin(np.sum(z ** 2, 1))  # the cell closest to the origin: p's peak, q ~ 0 there
    assert h.alpha.ravel()[near] >= 254 and h.alpha.max() == h.alpha.ravel()[near]
    # elsewhere away from q the shade is p / max p = exp(-|z|^2 / 2)
    far = np.argmin(np.sum((z - [-1.0, -1.0]) ** 2, 1))
    assert h.alpha.ravel()[far] == pytest.approx(255 * math.exp(-0.5 * np.sum(z[far] ** 2)), abs=1)
    # q (mass 1, all near (3, 3)) covers almost none of p: TV(p, q) ~ 1 - P_p(|z - 3| small) ~ the grid's p mass
    assert h.mass == pytest.approx(math.erf(4 / math.sqrt(2)) ** 2, abs=0.01)


def test_a_wide_q_covers_the_middle_and_leaves_the_prior_alone_there():
    h = prior_holes(gaussian([0, 0], 4 * np.eye(2)), (-3.0, 3.0, -3.0, 3.0), n=60)
    # q = N(0, 4I) is below p near the origin (q(0) = p(0) / 4): a hole of 3/4 p's peak there
    assert h.alpha[29:31, 29:31].min() >= round(255 * 0.75) - 2
    # p < q beyond |z| = sqrt(8 ln 4 / 3) ~ 1.92: no shade in the corners
    assert h.alpha[0, 0] == 0 and h.alpha[-1, -1] == 0


def test_only_a_2d_latent():
    with pytest.raises(ValueError, match="2-D"):
        prior_holes(gaussian([0, 0, 0], np.eye(3)), (-1.0, 1.0, -1.0, 1.0))


def test_the_map_payload_carries_the_grid_as_bytes_on_a_2d_latent_only():
    from explorer.model.config import ModelConfig
    from explorer.model.latent_model import build_model
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload, read

    h = prior_holes(gaussian([3, 3], 0.01 * np.eye(2)), (-4.0, 4.0, -4.0, 4.0))
    model = build_model(ModelConfig(latent_dim=2, hidden=(8,), image_shape=(1, 6, 6)))
    mu = np.random.default_rng(0).normal(size=(50, 2))
    proj = make_projection("axes")
    header, data = read(map_payload(model, proj, proj.fit_transform(mu), None, mu, holes=h))
    off, size = header["arrays"]["holes"]
    got = np.frombuffer(data[off:off + size].tobytes(), np.uint8)[:GRID * GRID].reshape(header["holes_grid"])
    np.testing.assert_array_equal(got, h.alpha)
    assert header["holes_extent"] == [-4.0, 4.0, -4.0, 4.0] and header["holes_mass"] == h.mass
    assert "holes" not in read(map_payload(model, proj, proj.fit_transform(mu), None, mu))[0]["arrays"]
    pca = make_projection("pca")  # a projected map is not z: no holes however asked
    model5 = build_model(ModelConfig(latent_dim=5, hidden=(8,), image_shape=(1, 6, 6)))
    mu5 = np.random.default_rng(0).normal(size=(50, 5))
    assert "holes_grid" not in read(map_payload(model5, pca, pca.fit_transform(mu5), None, mu5, holes=h))[0]
