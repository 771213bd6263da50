"""Attribute vectors and analogies in latent space (White 2016, *Sampling Generative Networks*, sec. 3;
dribnet/plat). A vector is the difference of the mean codes of two groups of images (two selections, or two
labels: "7 minus 1"); adding it with a strength s moves a code towards the second group. An analogy
a : b :: c : ? adds b's offset from a to c.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)


@dataclass
class AttributeVector:
    """to_mean - from_mean, with the group sizes it was built from."""

    vector: np.ndarray  # (D,)
    from_mean: np.ndarray
    to_mean: np.ndarray
    n_from: int
    n_to: int


def mean_code(codes: np.ndarray, ids) -> np.ndarray:
    """The mean of codes[ids] (D,), in float64; an empty group is an error, not a NaN."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(ids) == 0:
        raise ValueError("a group of images needs at least one image")
    if ids.min() < 0 or ids.max() >= len(codes):
        raise ValueError(f"image indices must be between 0 and {len(codes) - 1}")
    return np.asarray(codes, dtype=np.float64)[ids].mean(0)


def label_ids(labels: np.ndarray | None, label: int) -> np.ndarray:
    """The indices of the images with this label."""
    if labels is None:
        raise ValueError("this data set has no labels to build a vector from; use two selections")
    ids = np.flatnonzero(np.asarray(labels) == label)
    if len(ids) == 0:
        present = ", ".join(str(v) for v in np.unique(labels))
        raise ValueError(f"no test image has label {label} (labels present: {present})")
    return ids


def attribute_vector(codes: np.ndarray, from_ids, to_ids) -> AttributeVector:
    """mean(codes[to_ids]) - mean(codes[from_ids])."""
    a, b = mean_code(codes, from_ids), mean_code(codes, to_ids)
    return AttributeVector(b - a, a, b, len(np.atleast_1d(from_ids)), len(np.atleast_1d(to_ids)))


def apply_vector(z: np.ndarray, vector: np.ndarray, strengths=STRENGTHS) -> np.ndarray:
    """z + s * vector for each strength s: (S, D). Strength 0 is z itself."""
    z, v = np.asarray(z, np.float64), np.asarray(vector, np.float64)
    s = np.asarray(strengths, np.float64)[:, None]
    return z[None, :] + s * v[None, :]


def analogy(za: np.ndarray, zb: np.ndarray, zc: np.ndarray, method: str = "linear") -> np.ndarray:
    """a : b :: c : ?  linear: z_c + (z_b - z_a). spherical: rotate c by the rotation that turns the
    direction of a into that of b (in the plane of a and b, the arc slerp walks along), and scale its norm
    by |b| / |a|. Both give b when c is a."""
    za, zb, zc = (np.asarray(v, np.float64) for v in (za, zb, zc))
    if method == "linear":
        return zc + (zb - za)
    if method != "spherical":
        raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
    na, nb = np.linalg.norm(za), np.linalg.norm(zb)
    if na < 1e-12 or nb < 1e-12:  # no direction to turn from or to: the linear answer
        return zc + (zb - za)
    return rotate_like(zc, za / na, zb / nb) * (nb / na)


def rotate_like(x: np.ndarray, u: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x under the rotation that carries unit vector u to unit vector t and fixes every direction
    orthogonal to both."""
    cos = float(np.clip(u @ t, -1.0, 1.0))
    w = t - cos * u
    nw = np.linalg.norm(w)
    if nw < 1e-12:  # u and t (anti)parallel: no single plane; the same direction is the identity
        return x.copy() if cos > 0 else x - 2 * (x @ u) * u
    w /= nw
    sin = nw  # |t - (t.u) u| = sin of the angle from u to t
    xu, xw = x @ u, x @ w
    rest = x - xu * u - xw * w
    return rest + (cos * xu - sin * xw) * u + (sin * xu + cos * xw) * w
