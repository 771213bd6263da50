"""Slider bases, coordinates, ranges and traversals against hand-computed answers."""
import numpy as np
import pytest
import torch

from explorer.latent.sliders import apply_sliders, slider_basis, slider_coordinates, slider_ranges, traverse
from explorer.model.encoding import Encoding

R2 = np.sqrt(2.0)
TILTED = np.array([[1 / R2, 0.0], [1 / R2, 0.0], [0.0, 1.0]])  # orthonormal: u1 = (1, 1, 0)/√2, u2 = e3


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
    assert b.dims[:2] == [7, 3] and "most KL" in b.note
    np.testing.assert_array_equal(b.U[:, 0], np.eye(D)[7])
    p = slider_basis(D, enc, max_sliders=4, mode="pca")
    np.testing.assert_allclose(p.U.T @ p.U, np.eye(4), atol=1e-10)
    assert p.labels == ["PC 1", "PC 2", "PC 3", "PC 4"]
    ae = slider_basis(D, Encoding(enc.mean * np.arange(D), 0 * std), 2)
    assert ae.labels[0].startswith("z20 (variance")  # no KL for an AE: rank by spread
    with pytest.raises(ValueError):
        slider_basis(D, enc, 4, mode="ica")


def test_slider_coordinates_and_apply_sliders_by_hand():
    z = torch.tensor([3.0, 1.0, 5.0])
    np.testing.assert_allclose(slider_coordinates(z, TILTED), [4 / R2, 5.0], rtol=1e-12)  # U^T z
    # c = (0, -1): z + u1 (0 - 2√2) + u2 (-1 - 5) = (3, 1, 5) - (2, 2, 0) - (0, 0, 6)
    torch.testing.assert_close(apply_sliders(z, TILTED, np.array([0.0, -1.0])), torch.tensor([1.0, -1.0, -1.0]))
    # an axis basis sets those coordinates and keeps the rest
    z4 = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out = apply_sliders(z4, np.eye(4)[:, [1, 3]], np.array([-1.0, 0.5]))
    torch.testing.assert_close(out, torch.tensor([1.0, -1.0, 3.0, 0.5]))
    torch.testing.assert_close(apply_sliders(z, TILTED, slider_coordinates(z, TILTED)), z)  # a no-op move
    # any orthonormal basis: the coordinates come back, the part of z outside span(Q) is untouched
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 2)))
    out = apply_sliders(z4, Q, np.array([0.3, -2.0]))
    np.testing.assert_allclose(slider_coordinates(out, Q), [0.3, -2.0], atol=1e-6)
    P = np.eye(4) - Q @ Q.T
    np.testing.assert_allclose(P @ out.double().numpy(), P @ z4.double().numpy(), atol=1e-6)


def test_traverse_by_hand():
    z = torch.tensor([1.0, 2.0, 3.0])
    T = traverse(z, np.eye(3)[:, [0, 2]], torch.tensor([-1.0, 0.0, 1.0]))  # sweep z1, then z3
    want = torch.tensor([[[-1.0, 2, 3], [0, 2, 3], [1, 2, 3]],
                         [[1.0, 2, -1], [1, 2, 0], [1, 2, 1]]])
    torch.testing.assert_close(T, want)
    # along u1 = (1, 1, 0)/√2 from z = (3, 1, 5), whose coordinate is 2√2: to 0 is (1, -1, 5), to √2 adds (1, 1, 0)
    T = traverse(torch.tensor([3.0, 1.0, 5.0]), TILTED.astype(np.float32), torch.tensor([0.0, float(R2)]))
    assert T.shape == (2, 2, 3) and T.dtype == torch.float32
    torch.testing.assert_close(T[0], torch.tensor([[1.0, -1.0, 5.0], [2.0, 0.0, 5.0]]))
    torch.testing.assert_close(T[1], torch.tensor([[3.0, 1.0, 0.0], [3.0, 1.0, float(R2)]]))  # along e3: z3 to 0, √2


def test_slider_ranges_by_hand():
    enc = Encoding(np.array([[0.0, 10.0], [0.5, 12.0], [-0.5, 11.0]]), np.ones((3, 2)))
    # a VAE: the 0.5% / 99.5% quantiles (±0.495; 10.01, 11.99) widened to at least ±3, rounded out to halves
    lo, hi = slider_ranges(np.eye(2), enc, variational=True)
    np.testing.assert_array_equal(lo, [-3.0, -3.0])
    np.testing.assert_array_equal(hi, [3.0, 12.0])
    # an AE: those quantiles padded by 10% of their span (0.099; 0.198), rounded out to halves
    lo, hi = slider_ranges(np.eye(2), enc, variational=False)
    np.testing.assert_array_equal(lo, [-1.0, 9.5])
    np.testing.assert_array_equal(hi, [1.0, 12.5])
    line = Encoding(np.linspace(0.0, 4.0, 201)[:, None], np.zeros((201, 1)))  # quantiles 0.02, 3.98; pad 0.396
    np.testing.assert_array_equal(np.concatenate(slider_ranges(np.eye(1), line, variational=False)), [-0.5, 4.5])
    lo, hi = slider_ranges(np.eye(2), None, variational=True)
    np.testing.assert_array_equal(lo, [-4.0, -4.0])
    np.testing.assert_array_equal(hi, [4.0, 4.0])
    # ranges are of the coordinates along U: along u1 the codes reach 8/√2 = 5.66 (99.5%: 5.60 -> 6), on no axis
    tilted = Encoding(np.array([[4.0, 4.0, 0.0], [0.0, 0.0, 1.0], [-1.0, -1.0, -7.0]]), np.ones((3, 3)))
    lo, hi = slider_ranges(TILTED, tilted, variational=True)
    np.testing.assert_array_equal(lo, [-3.0, -7.0])
    np.testing.assert_array_equal(hi, [6.0, 3.0])
