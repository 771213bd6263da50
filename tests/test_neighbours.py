"""Nearest neighbours against a brute-force double loop, and the symmetric KL against torch's KL."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from explorer.latent.neighbours import k_nearest, metrics_for, neighbours, symmetric_kl_to


def brute_force(dist_fn, n: int, index: int, k: int) -> list[tuple[float, int]]:
    """The obvious answer: every other point's distance, sorted by (distance, index)."""
    return sorted((dist_fn(index, j), j) for j in range(n) if j != index)[:k]


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(300, 5))
    std = rng.uniform(0.2, 1.5, size=(300, 5))
    images = rng.uniform(size=(300, 1, 6, 6)).astype(np.float32)
    return mean, std, images


@pytest.mark.parametrize("index", [0, 17, 299])
@pytest.mark.parametrize("k", [1, 8])
def test_latent_and_pixel_neighbours_equal_brute_force(codes, index: int, k: int) -> None:
    mean, std, images = codes
    got = neighbours("latent", index, k, mean=mean)
    want = brute_force(lambda i, j: float(np.sqrt(((mean[i] - mean[j]) ** 2).sum())), len(mean), index, k)
    assert got.ids.tolist() == [j for _, j in want]
    np.testing.assert_allclose(got.distances, [d for d, _ in want], rtol=1e-12)
    x = images.reshape(len(images), -1).astype(np.float64)
    got = neighbours("pixel", index, k, images=torch.from_numpy(images))
    want = brute_force(lambda i, j: float(np.sqrt(((x[i] - x[j]) ** 2).sum())), len(x), index, k)
    assert got.ids.tolist() == [j for _, j in want]
    np.testing.assert_allclose(got.distances, [d for d, _ in want], rtol=1e-6)


def test_kl_neighbours_equal_brute_force_with_torch_kl(codes) -> None:
    mean, std, _ = codes

    def sym_kl(i: int, j: int) -> float:
        p, q = Normal(torch.tensor(mean[i]), torch.tensor(std[i])), Normal(torch.tensor(mean[j]), torch.tensor(std[j]))
        return float((kl_divergence(p, q) + kl_divergence(q, p)).sum())

    got = neighbours("kl", 5, 8, mean=mean, std=std)
    want = brute_force(sym_kl, len(mean), 5, 8)
    assert got.ids.tolist() == [j for _, j in want]
    np.testing.assert_allclose(got.distances, [d for d, _ in want], rtol=1e-10)
    assert symmetric_kl_to(mean, std, 5)[5] == pytest.approx(0.0, abs=1e-12)  # a posterior against itself


def test_ties_go_to_the_lower_index_and_the_query_is_never_its_own_neighbour() -> None:
    mean = np.array([[0.0], [1.0], [-1.0], [0.0], [2.0]])
    got = neighbours("latent", 0, 3, mean=mean)
    assert got.ids.tolist() == [3, 1, 2]  # the duplicate at distance 0 first, then 1 before 2 (both at 1)
    assert k_nearest(np.zeros(3), 1, 10)[0].tolist() == [0, 2]  # k larger than the rest: all of them


def test_bad_input_is_a_one_line_error(codes) -> None:
    mean, std, _ = codes
    with pytest.raises(ValueError, match="out of range: the test split has 300 images"):
        neighbours("latent", 300, 3, mean=mean)
    with pytest.raises(ValueError, match="unknown metric"):
        neighbours("cosine", 0, 3, mean=mean)
    with pytest.raises(ValueError, match="autoencoder"):
        neighbours("kl", 0, 3, mean=mean, std=np.zeros_like(std))
    with pytest.raises(ValueError, match="at least 1"):
        neighbours("latent", 0, 0, mean=mean)
    assert metrics_for(False) == ["latent", "pixel"]
