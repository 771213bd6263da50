"""The explorer's computations against answers known in closed form."""
import math

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from explorer import analysis
from explorer.config import ModelConfig
from explorer.data.base import binarize
from explorer.encoding import Encoding, decode_images, encode, weights_fingerprint
from explorer.evaluation import bound_terms, mean_kl_per_dim, posterior_draws
from explorer.latent import manifold_grid, manifold_latents, pixel_crossfade, principal_directions, traversal
from explorer.mixture import fit_mixture, sample_mixture, sample_prior
from explorer.model import build_model
from explorer.sliders import apply_sliders, slider_basis, slider_coordinates, slider_ranges, traverse


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(1):
        yield


def tiny(kind: str = "vae", latent: int = 3, **meta) -> torch.nn.Module:
    torch.manual_seed(0)
    m = build_model(ModelConfig(image_shape=(1, 6, 6), latent_dim=latent, kind=kind, hidden=(8,))).eval()
    m.metadata = meta
    return m


def test_encode_shapes_batches_and_point_codes():
    x = torch.rand(25, 1, 6, 6)
    vae, ae = tiny("vae"), tiny("ae")
    e = encode(vae, x, batch_size=7)
    assert e.mean.shape == e.std.shape == (25, 3) and (e.std > 0).all()
    np.testing.assert_allclose(e.mean, vae.encode(x).mean.detach().numpy(), atol=1e-6)
    ea = encode(ae, x)
    assert (ea.std == 0).all()
    assert encode(vae, x[:0]).mean.shape == (0, 3)


def test_mean_kl_per_dim_closed_form():
    # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2: 0 at the prior, 1/2 for m = 1, s = 1
    mean = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    std = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]])
    kl = mean_kl_per_dim(Encoding(mean, std))
    np.testing.assert_allclose(kl, [0.0, 0.5, 0.5 * (4 - 1 - math.log(4))], atol=1e-12)
    assert (mean_kl_per_dim(Encoding(mean, 0 * std)) == 0).all()  # AE


def test_principal_directions_of_known_data():
    rng = np.random.default_rng(0)
    X = np.zeros((500, 4))
    X[:, 2] = 3.0 * rng.standard_normal(500)
    X[:, 0] = 1.0 * rng.standard_normal(500)
    U, sd = principal_directions(X, 2)
    assert U.shape == (4, 2)
    np.testing.assert_allclose(np.abs(U[:, 0]), [0, 0, 1, 0], atol=0.01)  # up to sampling
    np.testing.assert_allclose(np.abs(U[:, 1]), [1, 0, 0, 0], atol=0.01)
    np.testing.assert_allclose(sd, [3.0, 1.0], rtol=0.1)


def test_slider_basis_small_latent_is_one_slider_per_dimension():
    b = slider_basis(5)
    np.testing.assert_array_equal(b.U, np.eye(5))
    assert b.labels == ["z1", "z2", "z3", "z4", "z5"] and b.note == ""


def test_slider_basis_large_latent_picks_most_kl_or_principal_directions():
    D = 20
    mean = np.zeros((50, D))
    std = np.ones((50, D))
    std[:, 7], std[:, 3] = 0.1, 0.2  # dims 7 then 3 carry the most KL
    enc = Encoding(mean + np.random.default_rng(0).standard_normal((50, D)) * 1e-3, std)
    b = slider_basis(D, enc, max_sliders=4, mode="kl")
    assert b.U.shape == (D, 4) and b.labels[0].startswith("z8 (KL") and b.labels[1].startswith("z4 (KL")
    assert "most KL" in b.note
    p = slider_basis(D, enc, max_sliders=4, mode="pca")
    np.testing.assert_allclose(p.U.T @ p.U, np.eye(4), atol=1e-10)
    assert p.labels == ["PC 1", "PC 2", "PC 3", "PC 4"]
    ae = slider_basis(D, Encoding(enc.mean * np.arange(D), 0 * std), 2)
    assert ae.labels[0].startswith("z20 (variance")  # no KL for an AE: rank by spread
    with pytest.raises(ValueError):
        slider_basis(D, enc, 4, mode="ica")


def test_apply_sliders_sets_coordinates_and_keeps_the_rest():
    z = torch.tensor([1.0, 2.0, 3.0, 4.0])
    U = np.eye(4)[:, [1, 3]]
    out = apply_sliders(z, U, np.array([-1.0, 0.5]))
    torch.testing.assert_close(out, torch.tensor([1.0, -1.0, 3.0, 0.5]))
    # any orthonormal basis: the coordinates come back, the orthogonal part is untouched
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 2)))
    c = np.array([0.3, -2.0])
    out = apply_sliders(z, Q, c)
    np.testing.assert_allclose(slider_coordinates(out, Q), c, atol=1e-6)
    P = np.eye(4) - Q @ Q.T
    np.testing.assert_allclose(P @ out.double().numpy(), P @ z.double().numpy(), atol=1e-6)
    torch.testing.assert_close(apply_sliders(z, Q, slider_coordinates(z, Q)), z)


def test_traverse_with_axes_is_latent_traversal_and_moves_along_each_direction():
    z = torch.randn(5)
    values = torch.linspace(-3, 3, 7)
    torch.testing.assert_close(traverse(z, np.eye(5), values), traversal(z, list(range(5)), values))
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((5, 2)))
    Q = Q.astype(np.float32)  # principal directions of float32 codes come as float32
    T = traverse(z, Q, values)  # (2, 7, 5)
    for k in range(2):
        coords = T[k].double().numpy() @ Q  # (7, 2)
        np.testing.assert_allclose(coords[:, k], values.numpy(), atol=1e-5)
        other = 1 - k
        np.testing.assert_allclose(coords[:, other], z.double().numpy() @ Q[:, other], atol=1e-5)


def test_manifold_latents():
    z, cap = manifold_latents(4, 2)
    torch.testing.assert_close(z, manifold_grid(4))
    assert "fig. 4" in cap
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((300, 6)) * np.array([5, 2, 0.1, 0.1, 0.1, 0.1])
    z, cap = manifold_latents(3, 6, mean)
    assert z.shape == (9, 6) and "principal" in cap
    U, _ = principal_directions(mean, 2)
    resid = (z.double().numpy() - mean.mean(0)) @ (np.eye(6) - U @ U.T)  # in the plane mean + span(U)
    np.testing.assert_allclose(resid, 0, atol=1e-5)
    assert manifold_latents(3, 1)[0].shape == (9, 1)
    assert manifold_latents(3, 5, None)[0][:, 2:].abs().sum() == 0


def test_an_autoencoder_manifold_spans_its_codes_not_the_prior():
    rng = np.random.default_rng(0)
    mean = rng.uniform(-30, 10, (2000, 2)) * np.array([1.0, 0.5])
    z, cap = manifold_latents(5, 2, mean, variational=False)
    assert "quantiles" in cap and "no prior" in cap
    q = np.quantile(mean, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(z[0].numpy(), [q[0, 0], q[1, 1]], rtol=1e-5)  # top left: smallest z1, largest z2
    np.testing.assert_allclose(z[-1].numpy(), [q[1, 0], q[0, 1]], rtol=1e-5)
    ref = manifold_grid(5)  # the same layout as the VAE's grid: z1 grows along a row, z2 down a column
    assert torch.equal(torch.sign(z[1:] - z[:-1]), torch.sign(ref[1:] - ref[:-1]))
    z1, _ = manifold_latents(4, 1, mean[:, :1], variational=False)
    assert z1.shape == (16, 1) and z1.min() < -20
    assert torch.equal(manifold_latents(5, 2, mean)[0], ref)  # a VAE keeps the prior's grid


def test_prior_and_mixture_samples_are_reproducible_and_right():
    a, b = sample_prior(3, 5, seed=1), sample_prior(3, 5, seed=1)
    torch.testing.assert_close(a, b)
    rng = np.random.default_rng(0)
    data = rng.multivariate_normal([2.0, -1.0], [[1.0, 0.8], [0.8, 1.0]], size=3000)
    gmm = fit_mixture(data, n_components=1, max_points=2000)
    s1, s2 = sample_mixture(gmm, 4000, seed=3), sample_mixture(gmm, 4000, seed=3)
    torch.testing.assert_close(s1, s2)
    np.testing.assert_allclose(s1.mean(0).numpy(), [2.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.corrcoef(s1.numpy().T)[0, 1], 0.8, atol=0.05)
    assert fit_mixture(data[:3], n_components=10).n_components == 3  # never more than points


def test_mixture_fits_with_one_blas_thread(monkeypatch):
    """21 s -> 0.5 s for mnist_vae50's codes on a 2-core machine with a training on the other core."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_info

    seen, real = [], GaussianMixture.fit

    def fit(self, X, y=None):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return real(self, X, y)

    monkeypatch.setattr(GaussianMixture, "fit", fit)
    data = np.random.default_rng(0).standard_normal((300, 3))
    with threadpool_limits(limits=2, user_api="blas"):
        fit_mixture(data, n_components=2)
        after = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen == [{1}] and after == {2}


def test_slider_ranges():
    U = np.eye(2)
    enc = Encoding(np.array([[0.0, 10.0], [0.5, 12.0], [-0.5, 11.0]]), np.ones((3, 2)))
    lo, hi = slider_ranges(U, enc, variational=True)
    assert lo[0] == -3 and hi[0] == 3 and hi[1] >= 12  # at least the prior's ±3, widened to the data
    lo, hi = slider_ranges(U, enc, variational=False)
    assert lo[1] >= 9 and hi[1] <= 13  # an AE: the data's range with a margin
    lo, hi = slider_ranges(U, None, variational=True)
    assert (lo == -4).all() and (hi == 4).all()


def test_pixel_crossfade_ends_and_middle():
    a, b = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    f = pixel_crossfade(a, b, 5)
    assert f.shape == (5, 1, 2, 2)
    torch.testing.assert_close(f[0], a)
    torch.testing.assert_close(f[-1], b)
    torch.testing.assert_close(f[2], torch.full((1, 2, 2), 0.5))


def test_bound_terms_vae_and_ae():
    x = torch.bernoulli(torch.rand(1, 1, 6, 6))
    t = bound_terms(tiny("vae"), x, samples=8)
    assert t["elbo"] == pytest.approx(t["recon"] - t["kl"], abs=1e-4) and t["kl"] > 0
    assert bound_terms(tiny("vae"), x, samples=8) == t  # seeded: the same on every rerun
    a = bound_terms(tiny("ae"), x)
    assert a["kl"] == 0 and a["elbo"] == a["recon"]


@pytest.mark.parametrize("likelihood, binarize_opt, expected", [
    ("bernoulli", "auto", True), ("gaussian", "auto", False), ("gaussian", "dynamic", True),
    ("bernoulli", "none", False)])
def test_trained_binarized_follows_the_trainer(likelihood, binarize_opt, expected):
    m = build_model(ModelConfig(image_shape=(1, 6, 6), latent_dim=2, hidden=(4,), likelihood=likelihood))
    m.metadata = {"train_config": {"binarize": binarize_opt}}
    assert analysis.trained_binarized(m) is expected
    x = torch.rand(10, 1, 6, 6)
    want = binarize(x, seed=analysis.TEST_BINARIZE_SEED) if expected else x
    torch.testing.assert_close(analysis.likelihood_images(m, x), want)


def test_fingerprint_notices_a_weight_change_and_draws_centre_on_the_mean():
    m = tiny()
    before = weights_fingerprint(m)
    with torch.no_grad():
        next(m.parameters())[0, 0] += 1.0
    assert weights_fingerprint(m) != before
    x = torch.rand(1, 1, 6, 6)
    z = posterior_draws(m, x, 4000, seed=0)
    q = m.encode(x)
    np.testing.assert_allclose(z.mean(0).numpy(), q.mean[0].detach().numpy(), atol=0.1)
    np.testing.assert_allclose(z.std(0).numpy(), q.stddev[0].detach().numpy(), rtol=0.1)


def test_decode_images_is_the_decoder_mean():
    m = tiny()
    z = torch.randn(3, 3)
    torch.testing.assert_close(decode_images(m, z), m.decode_mean(z))
