"""t-SNE on a model's test-set codes at the app's iteration count against sklearn's default, alternating
in one run: median seconds per fit and their ratio, with what the shorter run costs in quality
(KL of the fit, trustworthiness of 10 neighbours, 10-NN label accuracy on the map, 5-fold). When umap-learn
is installed, UMAP as the app fits it on the same codes, in the same rounds: its first fit (numba compiles
its kernels then, once per process) apart from the median of the rest, and its ratio to the app's t-SNE.

    python -m benchmarks.bench_tsne trained/mnist_vae50.safetensors --n 2000 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from explorer import load_model
from explorer.data.ref import DatasetRef
from explorer.latent.projection import TSNEProjection, UMAPProjection, umap_available
from explorer.model.encoding import encode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=2000, help="test images to embed (the app's default)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    from sklearn.manifold import TSNE, trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    model = load_model(args.checkpoint)
    data = DatasetRef.of(model).load_test()
    X = np.asarray(encode(model, data.test_x[:args.n]).mean, dtype=np.float32)
    y = data.test_y[:args.n].numpy()
    perplexity = TSNEProjection.perplexity(len(X))  # as the app fits it
    runs = {TSNEProjection.max_iter: [], 1000: []}
    quality = {}
    umap_runs: list[float] = []
    for _ in range(args.repeats):
        if umap_available():
            t = time.perf_counter()
            E = UMAPProjection(seed=0).fit_transform(X)
            umap_runs.append(time.perf_counter() - t)
            quality["umap"] = (trustworthiness(X, E, n_neighbors=10),
                               cross_val_score(KNeighborsClassifier(10), E, y, cv=5).mean())
        for it in runs:
            tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0, max_iter=it)
            t = time.perf_counter()
            E = tsne.fit_transform(X)
            runs[it].append(time.perf_counter() - t)
            quality[it] = (tsne.kl_divergence_, trustworthiness(X, E, n_neighbors=10),
                           cross_val_score(KNeighborsClassifier(10), E, y, cv=5).mean())
    for it, ts in runs.items():
        kl, trust, acc = quality[it]
        print(f"max_iter {it:5d}: median {statistics.median(ts):.2f} s over {len(ts)} "
              f"({', '.join(f'{t:.2f}' for t in ts)}); KL {kl:.3f}, trustworthiness {trust:.4f}, "
              f"10-NN accuracy {acc:.3f}")
    app, base = (statistics.median(v) for v in runs.values())
    print(f"time ratio app / sklearn default: {app / base:.2f}")
    if umap_runs:
        trust, acc = quality["umap"]
        rest = statistics.median(umap_runs[1:]) if len(umap_runs) > 1 else umap_runs[0]
        print(f"UMAP: first fit {umap_runs[0]:.2f} s (numba compiles), then median {rest:.2f} s; trustworthiness "
              f"{trust:.4f}, 10-NN accuracy {acc:.3f}; time ratio UMAP / app's t-SNE: {rest / app:.2f}")
    else:
        print("UMAP: not installed (pip install umap-learn)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
