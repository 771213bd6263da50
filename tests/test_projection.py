"""Projections: estimator conventions, what each can do with new points, exact answers where there are some."""
import numpy as np
import pytest

from explorer.latent.projection import (LatentAxes, PCAProjection, TSNEProjection, available_projections,
                                        make_projection, umap_available)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def line_data(n: int = 400, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points spread mostly along one known unit direction u (std 5), a little along the rest (std 0.1)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    X = 5.0 * rng.standard_normal((n, 1)) * u + 0.1 * rng.standard_normal((n, d)) + 3.0
    return X, u


@pytest.mark.parametrize("d, expected", [(1, ["axes"]), (2, ["axes"]), (3, ["pca", "tsne"]), (50, ["pca", "tsne"])])
def test_available_projections(d, expected):
    got = available_projections(d)
    assert got[:len(expected)] == expected  # default first
    assert ("umap" in got) == (d > 2 and umap_available())


def test_flags_say_what_can_place_new_points():
    assert PCAProjection.inductive and PCAProjection.linear
    assert LatentAxes.inductive and LatentAxes.linear
    assert not TSNEProjection.inductive and not TSNEProjection.linear


def test_init_stores_arguments_only_and_fit_returns_self():
    p = make_projection("pca", seed=3)
    assert p.seed == 3 and not hasattr(p, "components_")
    X, _ = line_data()
    assert p.fit(X) is p and hasattr(p, "components_")


def test_latent_axes_is_the_identity_and_pads_a_1d_latent():
    X = np.array([[1.0, -2.0], [0.5, 3.0]])
    p = LatentAxes()
    np.testing.assert_array_equal(p.fit_transform(X), X)
    np.testing.assert_array_equal(p.transform(np.array([[2.0]])), [[2.0, 0.0]])
    cov = np.array([[4.0, 1.0], [1.0, 9.0]])
    np.testing.assert_array_equal(p.project_covariance(cov), cov)
    np.testing.assert_array_equal(p.project_covariance(np.array([[4.0]])), [[4.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="at most 2"):
        p.fit_transform(np.zeros((3, 3)))


def test_pca_finds_the_known_direction_and_places_new_points():
    X, u = line_data()
    p = PCAProjection()
    Y = p.fit_transform(X)
    assert abs(abs(p.components_[0] @ u) - 1) < 1e-3  # first component = u up to sign
    np.testing.assert_allclose(p.transform(X), Y, atol=1e-10)
    # a new point along u, 2 units from the mean, lands 2 units out on PC 1
    new = p.mean_ + 2.0 * u
    np.testing.assert_allclose(abs(p.transform(new[None])[0, 0]), 2.0, atol=1e-2)
    # orthonormal rows: the identity covariance stays the identity; W S W^T in general
    np.testing.assert_allclose(p.project_covariance(np.eye(X.shape[1])), np.eye(2), atol=1e-10)
    S = np.diag(np.arange(1.0, X.shape[1] + 1))
    np.testing.assert_allclose(p.project_covariance(S), p.components_ @ S @ p.components_.T)
    assert "PC 1" in p.axis_titles()[0] and "%" in p.axis_titles()[0]


def test_tsne_is_transductive_and_keeps_clusters_apart():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (30, 5)), rng.normal(10, 0.1, (30, 5))])
    p = TSNEProjection(seed=0)
    Y = p.fit_transform(X)
    assert Y.shape == (60, 2)
    a, b = Y[:30], Y[30:]
    between = np.linalg.norm(a.mean(0) - b.mean(0))
    within = max(np.linalg.norm(a - a.mean(0), axis=1).max(), np.linalg.norm(b - b.mean(0), axis=1).max())
    assert between > within
    with pytest.raises(NotImplementedError, match="transductive"):
        p.transform(X[:1])
    with pytest.raises(NotImplementedError, match="not linear"):
        p.project_covariance(np.eye(5))


def test_tsne_works_on_very_few_points():
    Y = TSNEProjection().fit_transform(np.random.default_rng(0).standard_normal((8, 4)))
    assert Y.shape == (8, 2) and np.isfinite(Y).all()


def test_unknown_and_missing_projections_are_clear_errors():
    with pytest.raises(ValueError, match="unknown projection"):
        make_projection("isomap")
    if not umap_available():
        with pytest.raises(ValueError, match="umap-learn"):
            make_projection("umap")


def test_pca_3d_matches_sklearn_up_to_sign_and_explains_the_top_variance() -> None:
    from sklearn.decomposition import PCA

    from explorer.latent.projection import pca_3d

    X = np.random.default_rng(3).normal(size=(400, 6)) * np.array([5, 4, 3, 0.5, 0.2, 0.1])
    coords, ratio = pca_3d(X)
    ref = PCA(3).fit(X)
    want = ref.transform(X)
    for k in range(3):  # each axis equals sklearn's, possibly flipped
        sign = np.sign(coords[:, k] @ want[:, k])
        np.testing.assert_allclose(coords[:, k], sign * want[:, k], atol=1e-9)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-9)
    with pytest.raises(ValueError, match="3 dimensions"):
        pca_3d(X[:, :2])


@pytest.mark.slow  # the first UMAP fit in a process waits for numba to compile (about 30 s here)
@pytest.mark.skipif(not umap_available(), reason="umap-learn is not installed")
def test_umap_separates_two_clusters_and_places_new_points_in_theirs() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (150, 6)), rng.normal(12, 1, (150, 6))])
    proj = make_projection("umap")
    Y = proj.fit_transform(X)
    assert Y.shape == (300, 2) and proj.inductive
    new = proj.transform(np.concatenate([rng.normal(0, 1, (5, 6)), rng.normal(12, 1, (5, 6))]))
    nearest = np.argmin(((new[:, None, :] - Y[None]) ** 2).sum(-1), axis=1)
    assert (nearest[:5] < 150).all() and (nearest[5:] >= 150).all()
