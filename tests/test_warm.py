"""Progress and warming: the core reports what a wait is for, shared work runs once for many sessions, the
file cache survives a corrupt file, and `python -m explorer warm` fills the cache the app reads."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from explorer import load_model
from explorer.cli import main
from explorer.data.ref import DatasetRef
from explorer.jobs.shared_work import SharedWork
from explorer.latent.projection import PCAProjection, TSNEProjection
from explorer.store import file_cache
from explorer.store.map_cache import cached_encoding, cached_projection, encoding_name

TINY = ["--dataset", "digits", "--hidden", "32", "--batch-size", "128", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(file_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def vae4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch digits VAE with a 4-D latent: its map needs a projection."""
    path = tmp_path_factory.mktemp("warm") / "vae4.safetensors"
    assert main(["train", *TINY, "--latent", "4", "--epochs", "1", "--out", str(path)]) == 0
    return path


def _images(path: Path):
    model = load_model(path)
    ref = DatasetRef.of(model)
    return model, ref.scored(ref.load_test().test_x)


def test_tsne_reports_its_iterations() -> None:
    seen = []
    X = np.random.default_rng(0).normal(size=(120, 5))
    TSNEProjection().fit_transform(X, lambda f, t: seen.append((f, t)))
    assert seen[0] == (0.0, "Fitting t-SNE on 120 points: neighbours and affinities…")
    iters = [t for _, t in seen if "iteration" in t]
    assert "iteration 10 of 500" in iters[0] and len(iters) >= 25  # every 10th of up to 500
    assert all(b >= a for (a, _), (b, _) in zip(seen, seen[1:]))  # never goes back


def test_umap_reports_its_epochs() -> None:
    pytest.importorskip("umap")
    from explorer.latent.projection import UMAPProjection

    seen = []
    X = np.random.default_rng(0).normal(size=(150, 5)).astype(np.float32)
    UMAPProjection().fit_transform(X, lambda f, t: seen.append((f, t)))
    epochs = [t for _, t in seen if "epoch" in t]
    assert epochs and epochs[-1].endswith("(epoch 500 of 500)") and seen[-1][0] == 1.0


def test_shared_work_runs_once_for_eight_callers_and_shows_them_its_progress() -> None:
    work, release, calls, waits = SharedWork(4), threading.Event(), [], []

    def compute(progress):
        calls.append(1)
        progress(0.5, "half way")
        release.wait(10)
        return np.arange(3)

    out = []
    threads = [threading.Thread(target=lambda: out.append(work.get("k", compute, lambda *a: waits.append(a),
                                                                  poll_s=0.01))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and work.computed == 1 and len(out) == 8
    assert all(o is out[0] for o in out)  # one shared value
    assert any(w[:2] == (0.5, "half way") for w in waits)


def test_shared_work_passes_an_error_on_and_retries_on_the_next_call() -> None:
    work, attempts = SharedWork(4), []

    def compute(progress):
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first try fails")
        return 7

    with pytest.raises(ValueError, match="first try fails"):
        work.get("k", compute)
    assert work.get("k", compute) == 7 and len(attempts) == 2


def test_file_cache_ignores_a_corrupt_or_misshapen_file_and_rewrites_it(vae4: Path, cache: Path) -> None:
    model, x = _images(vae4)
    name = encoding_name(vae4, model)
    first = cached_encoding(model, x, name)
    (enc_file,) = cache.glob("*-enc.npz")
    enc_file.write_bytes(b"not a zip file")
    again = cached_encoding(model, x, name)  # recomputed, no error
    np.testing.assert_array_equal(first.mean, again.mean)
    assert file_cache.load(f"{name}-enc") is not None  # written afresh
    file_cache.save(f"{name}-enc", {"mean": first.mean[:5], "std": first.std[:5]})  # wrong shape
    np.testing.assert_array_equal(cached_encoding(model, x, name).mean, first.mean)
    assert not list(cache.glob(".tmp-*"))  # atomic writes leave no temporary files


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_a_projection_read_back_from_the_cache_is_the_one_fitted(vae4: Path, method: str) -> None:
    model, x = _images(vae4)
    name = encoding_name(vae4, model)
    mean = cached_encoding(model, x, name).mean
    proj, coords = cached_projection(mean, method, name)
    seen = []
    proj2, coords2 = cached_projection(mean, method, name, lambda f, t: seen.append(t))
    np.testing.assert_array_equal(coords, coords2)
    if method == "tsne":
        assert seen == [f"Read the t-SNE map of {len(mean):,} points from the cache"]
    else:  # PCA is refitted (milliseconds), and places new points as before
        assert isinstance(proj2, PCAProjection)
        np.testing.assert_allclose(proj.transform(mean[:3]), proj2.transform(mean[:3]))


def test_warm_command_fills_the_cache_with_progress_and_a_second_run_reads_it(
        vae4: Path, cache: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["warm", "--models", str(vae4), "--projections", "pca,tsne", "--threads", "1"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert f"cache folder: {cache}" in out and "tsne map of 359 points ready" in out
    assert "Encoded 359 test images 100%|" in err and "t-SNE on 359 points (iteration" in err  # tqdm bars
    assert len(list(cache.glob("*-tsne-n359.npz"))) == 1 and len(list(cache.glob("*-enc.npz"))) == 1
    assert main(argv) == 0
    assert "Read the t-SNE map of 359 points from the cache" in capsys.readouterr().err


def test_warm_refuses_an_unknown_projection(vae4: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["warm", "--models", str(vae4), "--projections", "pca,isomap"]) == 2
    assert "unknown projection(s) isomap" in capsys.readouterr().err


def test_evaluate_shows_a_progress_bar_on_stderr(vae4: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(vae4), "--k", "20", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    assert "test log-likelihood" in out
    assert "359/359" in err and "img" in err  # tqdm's count of images, on stderr


def test_the_app_reads_what_warm_wrote_and_eight_sessions_at_once_read_it_once(vae4: Path) -> None:
    import os

    from explorer.ui.state import caches  # Streamlit's caches in bare mode: no server, no page

    assert main(["warm", "--models", str(vae4), "--projections", "tsne", "--threads", "1", "--quiet"]) == 0
    model = load_model(vae4)
    key = f"bundled:{vae4}:{os.path.getmtime(vae4)}:cpu"  # as the sidebar names a bundled checkpoint
    name = caches.file_cache_name(model, key)
    saved = file_cache.load(f"{name}-tsne-n359")
    assert saved is not None
    before, out = caches._PROJECTIONS.computed, []
    threads = [threading.Thread(target=lambda: out.append(caches.projection(model, key, "digits", "tsne", 359)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == 8 and caches._PROJECTIONS.computed == before + 1
    np.testing.assert_array_equal(out[0][1], saved["coords"])  # the warmed map, not a new fit
