"""Attribute vectors and analogies: exact answers (differences of means, strength 0, c = a)."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.latent.attributes import analogy, apply_vector, attribute_vector, label_ids, rotate_like
from explorer.latent.geometry import slerp


@pytest.fixture
def codes():
    rng = np.random.default_rng(1)
    return rng.normal(size=(200, 6)), rng.integers(0, 4, size=200)


def test_vector_is_the_difference_of_the_group_means(codes) -> None:
    z, labels = codes
    a, b = label_ids(labels, 1), label_ids(labels, 3)
    v = attribute_vector(z, a, b)
    np.testing.assert_allclose(v.vector, z[labels == 3].mean(0) - z[labels == 1].mean(0), rtol=1e-12)
    assert (v.n_from, v.n_to) == ((labels == 1).sum(), (labels == 3).sum())
    sel = attribute_vector(z, [0, 1, 2], [5])  # two selections
    np.testing.assert_allclose(sel.vector, z[5] - z[:3].mean(0), rtol=1e-12)


def test_strength_zero_is_the_image_itself_and_one_adds_the_vector(codes) -> None:
    z, labels = codes
    v = attribute_vector(z, label_ids(labels, 0), label_ids(labels, 2)).vector
    row = apply_vector(z[7], v, [-2, 0, 1, 2])
    assert np.array_equal(row[1], z[7])
    np.testing.assert_allclose(row[2], z[7] + v, rtol=1e-12)
    np.testing.assert_allclose(row[0] - z[7], -(row[3] - z[7]), rtol=1e-12)  # -2 and +2 are mirror images


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_analogy_of_a_with_itself_gives_b(codes, method: str) -> None:
    z, _ = codes
    np.testing.assert_allclose(analogy(z[0], z[1], z[0], method), z[1], atol=1e-12)
    np.testing.assert_allclose(analogy(z[0], z[0], z[2], method), z[2], atol=1e-12)  # no offset: c itself


def test_linear_analogy_adds_the_offset_and_spherical_keeps_the_norm_ratio(codes) -> None:
    z, _ = codes
    np.testing.assert_allclose(analogy(z[0], z[1], z[2]), z[2] + z[1] - z[0], rtol=1e-12)
    d = analogy(z[0], z[1], z[2], "spherical")
    ratio = np.linalg.norm(z[1]) / np.linalg.norm(z[0])
    assert np.linalg.norm(d) == pytest.approx(np.linalg.norm(z[2]) * ratio, rel=1e-12)
    # the same rotation turns c by the angle from a to b when c lies in the plane of a and b
    c = 0.3 * z[0] + 0.7 * z[1]
    angle = lambda p, q: np.arccos(np.clip(p @ q / np.linalg.norm(p) / np.linalg.norm(q), -1, 1))  # noqa: E731
    turned = rotate_like(c, z[0] / np.linalg.norm(z[0]), z[1] / np.linalg.norm(z[1]))
    assert angle(c, turned) == pytest.approx(angle(z[0], z[1]), abs=1e-10)


def test_spherical_analogy_follows_slerps_arc() -> None:
    """On the unit circle the answer to a : b :: b : ? is the next point of slerp's arc past b."""
    import torch

    a, b = np.array([1.0, 0.0]), np.array([np.cos(0.5), np.sin(0.5)])
    arc = slerp(torch.tensor(a), torch.tensor(b), 3).numpy()  # a, the midpoint, b
    np.testing.assert_allclose(analogy(a, arc[1], arc[1], "spherical"), b, atol=1e-12)


def test_bad_groups_are_one_line_errors(codes) -> None:
    z, labels = codes
    with pytest.raises(ValueError, match="no test image has label 9"):
        label_ids(labels, 9)
    with pytest.raises(ValueError, match="at least one image"):
        attribute_vector(z, [], [1])
    with pytest.raises(ValueError, match="between 0 and 199"):
        attribute_vector(z, [0], [200])
    with pytest.raises(ValueError, match="linear"):
        analogy(z[0], z[1], z[2], "cubic")
