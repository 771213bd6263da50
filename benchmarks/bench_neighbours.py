"""One nearest-neighbour query against the 10,000 MNIST test images (what the map does on a click), for each
metric, against scikit-learn's brute-force NearestNeighbors on the same arrays in the same run (the answers
are checked equal): median milliseconds per query and the ratio.

    python -m benchmarks.bench_neighbours trained/mnist_vae50.safetensors --k 8 --repeats 20
"""
from __future__ import annotations

import argparse
import statistics
import time


from explorer import load_model
from explorer.data.ref import DatasetRef
from explorer.latent.neighbours import neighbours
from explorer.model.encoding import encode


def timed(f, repeats: int) -> tuple[float, object]:
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    from sklearn.neighbors import NearestNeighbors

    model = load_model(args.checkpoint)
    data = DatasetRef.of(model).load_test()
    enc = encode(model, DatasetRef.of(model).scored(data.test_x))
    pixels = data.test_x.reshape(len(data.test_x), -1).numpy()
    print(f"{len(pixels):,} points; latent {enc.mean.shape[1]}-D, pixels {pixels.shape[1]}-D; k = {args.k}")
    for metric, X in (("latent", enc.mean), ("pixel", pixels)):
        ours, nb = timed(lambda: neighbours(metric, 123, args.k, mean=enc.mean, images=pixels), args.repeats)
        nn = NearestNeighbors(n_neighbors=args.k + 1, algorithm="brute").fit(X)
        base, (_, ids) = timed(lambda: nn.kneighbors(X[123:124]), args.repeats)
        same = ids[0][ids[0] != 123][:args.k].tolist() == nb.ids.tolist()
        print(f"{metric:6s}: {ours:7.2f} ms per query; sklearn brute force {base:7.2f} ms; ratio {ours / base:.2f}; "
              f"same answer: {same}")
    if model.is_variational:
        ms, _ = timed(lambda: neighbours("kl", 123, args.k, mean=enc.mean, std=enc.std), args.repeats)
        print(f"kl    : {ms:7.2f} ms per query (no sklearn baseline: the symmetric KL is not one of its metrics)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
