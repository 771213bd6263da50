"""2-D views of a latent space (PCA, t-SNE, UMAP) behind one estimator-style interface.

scikit-learn conventions: __init__ stores arguments, fit returns self, learned state ends in `_`.
`inductive` says whether transform() can place new points (an interpolation path, an uploaded image)
on a fitted map without refitting: PCA and UMAP can; t-SNE is transductive and offers fit_transform
only. `linear` projections can also carry a covariance over, so a posterior ellipse can be drawn.
fit_transform takes an optional progress callback; to_arrays/from_arrays keep a fitted map in a file cache.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from ..model.progress import Progress, report
from .fit_progress import tsne_iterations, umap_tqdm_kwds


class Projection:
    """Base class: subclasses set `key`, `label`, `inductive`, `linear` and implement fit_transform."""

    key = "base"
    label = "projection"
    inductive = False
    linear = False

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, X: np.ndarray) -> "Projection":
        self.fit_transform(X)
        return self

    def fit_transform(self, X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        raise NotImplementedError

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays (no code), enough for from_arrays to rebuild it."""
        return {}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], X: np.ndarray, seed: int = 0) -> "Projection":
        """The projection to_arrays saved, fitted to X (the codes it was fitted to)."""
        proj = cls(seed=seed)
        for name, value in arrays.items():
            setattr(proj, name, value)
        return proj

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.label} cannot place new points without refitting "
                                  "(it is transductive); use PCA to draw new points on a map")

    def project_covariance(self, cov: np.ndarray) -> np.ndarray:
        """(..., D, D) covariance in latent space -> (..., 2, 2) on the map (linear projections only)."""
        raise NotImplementedError(f"{self.label} is not linear; a covariance has no image on its map")

    def axis_titles(self) -> tuple[str, str]:
        return (f"{self.label} 1", f"{self.label} 2")


class LatentAxes(Projection):
    """The identity for a 1- or 2-D latent: the map's axes are z1 and z2 (z2 = 0 for a 1-D latent)."""

    key = "axes"
    label = "latent axes"
    inductive = True
    linear = True

    def fit_transform(self, X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] > 2:
            raise ValueError(f"latent axes need a latent of at most 2 dimensions, got {X.shape[-1]}")
        self.n_features_in_ = X.shape[-1]
        return self.transform(X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] == 2:
            return X.copy()
        return np.concatenate([X, np.zeros_like(X)], axis=-1)

    def project_covariance(self, cov: np.ndarray) -> np.ndarray:
        cov = np.asarray(cov, dtype=np.float64)
        if cov.shape[-1] == 2:
            return cov.copy()
        out = np.zeros(cov.shape[:-2] + (2, 2))
        out[..., 0, 0] = cov[..., 0, 0]
        return out

    def axis_titles(self) -> tuple[str, str]:
        return ("z1", "z2")


class PCAProjection(Projection):
    """Principal components of the encoded means: instant, linear, places new points by transform."""

    key = "pca"
    label = "PCA"
    inductive = True
    linear = True

    def fit_transform(self, X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float64)
        self.pca_ = PCA(n_components=2, random_state=self.seed).fit(X)
        self.components_ = self.pca_.components_  # (2, D), orthonormal rows
        self.mean_ = self.pca_.mean_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return self.transform(X)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"components_": self.components_, "mean_": self.mean_,
                "explained_variance_ratio_": self.explained_variance_ratio_}

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T

    def project_covariance(self, cov: np.ndarray) -> np.ndarray:
        W = self.components_
        return W @ np.asarray(cov, dtype=np.float64) @ W.T  # W Sigma W^T

    def axis_titles(self) -> tuple[str, str]:
        r = self.explained_variance_ratio_
        return (f"PC 1 ({r[0]:.0%} of variance)", f"PC 2 ({r[1]:.0%} of variance)")


class TSNEProjection(Projection):
    """t-SNE (van der Maaten & Hinton 2008): keeps neighbourhoods, not distances; transductive."""

    key = "tsne"
    label = "t-SNE"
    # 500, not sklearn's 1000: about half the time for the same picture (trustworthiness and label accuracy
    # on the map hardly move: BENCHMARKS.md, "t-SNE on the Latent map", from benchmarks/bench_tsne.py)
    max_iter = 500

    @staticmethod
    def perplexity(n: int) -> float:
        return float(min(30.0, max(2.0, (n - 1) / 3)))  # sklearn needs perplexity < n

    def fit_transform(self, X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        from sklearn.manifold import TSNE

        X = np.asarray(X, dtype=np.float32)
        n, total = len(X), self.max_iter
        report(progress, 0.0, f"Fitting t-SNE on {n:,} points: neighbours and affinities…")

        def tick(i: int) -> None:
            if i % 10 == 0 or i == total:
                report(progress, i / total, f"Fitting t-SNE on {n:,} points (iteration {i} of {total})")

        with tsne_iterations(tick) as counted:
            if progress is not None and not counted:  # this scikit-learn has no hook: say the stage only
                report(progress, 0.0, f"Fitting t-SNE on {n:,} points ({total} iterations)…")
            tsne = TSNE(n_components=2, perplexity=self.perplexity(n), init="pca", random_state=self.seed,
                        max_iter=total)
            self.embedding_ = tsne.fit_transform(X).astype(np.float64)
        return self.embedding_

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"embedding_": self.embedding_}


class UMAPProjection(Projection):
    """UMAP (McInnes et al. 2018), when the umap-learn package is installed; can transform new points."""

    key = "umap"
    label = "UMAP"
    inductive = True
    fitted_in_process = False  # numba compiles UMAP's kernels (or loads them from its cache) on the first fit

    def fit_transform(self, X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        import umap  # optional dependency

        n = len(X)
        first = "" if UMAPProjection.fitted_in_process else (
            " and numba's kernels (compiled or loaded by the first UMAP of a server, up to 2 minutes)")
        report(progress, 0.0, f"UMAP on {n:,} points: neighbour graph{first}…")

        def tick(epoch: int, epochs: int) -> None:
            report(progress, epoch / max(epochs, 1), f"UMAP on {n:,} points (epoch {epoch} of {epochs})")

        kwds = umap_tqdm_kwds(tick) if progress is not None else None
        self.umap_ = umap.UMAP(n_components=2, random_state=self.seed, tqdm_kwds=kwds)
        out = np.asarray(self.umap_.fit_transform(np.asarray(X, dtype=np.float32)), dtype=np.float64)
        self.umap_.tqdm_kwds = {"disable": True}  # transform() later must not report into this fit's callback
        UMAPProjection.fitted_in_process = True
        self.embedding_ = out
        return out

    def transform(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "umap_"):  # rebuilt from a file cache: refit (same seed, same map) on first use
            self.fit_transform(self.fit_input_)
        return np.asarray(self.umap_.transform(np.asarray(X, dtype=np.float32)), dtype=np.float64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"embedding_": self.embedding_}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], X: np.ndarray, seed: int = 0) -> "Projection":
        proj = super().from_arrays(arrays, X, seed)
        proj.fit_input_ = np.asarray(X)
        return proj


def pca_3d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes on their three leading principal axes, (N, 3), and the share of variance each explains (3,).
    Each axis's sign is fixed so that its largest loading is positive (the same picture on every run)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 3 or len(X) < 3:
        raise ValueError(f"a 3-D view needs at least 3 codes of at least 3 dimensions, got shape {X.shape}")
    centred = X - X.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    W = vt[:3] * np.sign(vt[:3][np.arange(3), np.abs(vt[:3]).argmax(1)])[:, None]  # (3, D)
    var = s ** 2
    return centred @ W.T, var[:3] / var.sum()


PROJECTIONS: dict[str, type[Projection]] = {
    c.key: c for c in (LatentAxes, PCAProjection, TSNEProjection, UMAPProjection)}


def umap_available() -> bool:
    return importlib.util.find_spec("umap") is not None


def available_projections(latent_dim: int) -> list[str]:
    """Keys that make sense for this latent size, default first: a 2-D latent is its own map."""
    if latent_dim <= 2:
        return ["axes"]
    return ["pca", "tsne"] + (["umap"] if umap_available() else [])


def make_projection(key: str, seed: int = 0) -> Projection:
    if key not in PROJECTIONS:
        raise ValueError(f"unknown projection {key!r}; choose one of {', '.join(PROJECTIONS)}")
    if key == "umap" and not umap_available():
        raise ValueError("UMAP needs the umap-learn package (pip install umap-learn)")
    return PROJECTIONS[key](seed=seed)
