"""Grids and paths in latent space against answers known in closed form."""
from statistics import NormalDist

import numpy as np
import torch

from explorer.latent.geometry import manifold_grid, manifold_latents, pixel_crossfade, principal_directions

Q95 = NormalDist().inv_cdf(0.95)  # 1.6448536...: N(0, 1)'s 95% quantile, from the standard library


def rotated_cross(centre: np.ndarray, u1: np.ndarray, sd1: float, u2: np.ndarray, sd2: float) -> np.ndarray:
    """Four points centre ± a u1, centre ± b u2 whose sample standard deviations along u1 and u2 are
    exactly sd1 and sd2 (n - 1 = 3: sd^2 = 2 a^2 / 3)."""
    a, b = sd1 * np.sqrt(1.5), sd2 * np.sqrt(1.5)
    return np.stack([centre + a * u1, centre - a * u1, centre + b * u2, centre - b * u2])


U1 = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0]) / np.sqrt(2)
U2 = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
CENTRE = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def test_principal_directions_of_a_known_cross():
    X = rotated_cross(CENTRE, U1, 3.0, U2, 1.0)
    U, sd = principal_directions(X, 2)
    assert U.shape == (6, 2)
    np.testing.assert_allclose(np.abs(U.T @ np.stack([U1, U2], 1)), np.eye(2), atol=1e-12)  # ±u1, ±u2
    np.testing.assert_allclose(sd, [3.0, 1.0], rtol=1e-12)


def test_a_2d_manifold_is_the_inverse_cdf_grid():
    z, cap = manifold_latents(3, 2)  # quantiles 5%, 50%, 95%: -1.645, 0, 1.645
    a = Q95
    want = torch.tensor([[-a, a], [0, a], [a, a],  # row-major, top row = largest z2 (Kingma & Welling, fig. 4)
                         [-a, 0], [0, 0], [a, 0],
                         [-a, -a], [0, -a], [a, -a]])
    torch.testing.assert_close(z, want)
    assert "fig. 4" in cap
    torch.testing.assert_close(manifold_latents(3, 1)[0], want[:, :1])  # 1-D: the first grid axis
    z5, _ = manifold_latents(3, 5, None)  # no data: the grid on z1, z2, the rest at 0
    torch.testing.assert_close(z5[:, :2], want)
    assert z5[:, 2:].abs().sum() == 0


def test_a_larger_latent_lays_the_grid_along_the_principal_directions():
    X = rotated_cross(CENTRE, U1, 3.0, U2, 1.0)
    z, cap = manifold_latents(3, 6, X)
    assert z.shape == (9, 6) and "principal" in cap
    d = z.double().numpy() - CENTRE  # centred on the data mean
    g = manifold_grid(3).double().numpy()
    np.testing.assert_allclose(np.abs(d @ U1), 3.0 * np.abs(g[:, 0]), rtol=1e-5)  # scaled by sd 3 along u1
    np.testing.assert_allclose(np.abs(d @ U2), 1.0 * np.abs(g[:, 1]), atol=1e-5)  # and by sd 1 along u2
    np.testing.assert_allclose(d - np.outer(d @ U1, U1) - np.outer(d @ U2, U2), 0, atol=1e-5)  # in that plane


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


def test_pixel_crossfade_ends_and_middle():
    a, b = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    f = pixel_crossfade(a, b, 5)
    assert f.shape == (5, 1, 2, 2)
    torch.testing.assert_close(f[0], a)
    torch.testing.assert_close(f[-1], b)
    torch.testing.assert_close(f[2], torch.full((1, 2, 2), 0.5))
