"""Whole data sets on the map, without the app: a split's encoding is made once for every session (a second request
reads it, eight at once encode once, a new process reads the file cache), a slow projection is bounded, and a
codes file is read as untrusted numbers and refused, with what differs named, when it is not of the model."""
from __future__ import annotations

import io
import threading
import time
import zipfile

import numpy as np
import pytest
import torch

from explorer import DatasetRef, load_model
from explorer.cli import main
from explorer.data.splits import load_split, load_split_images, point_name
from explorer.jobs.map_points import SplitEncodings, check_images_memory
from explorer.latent.map import check_points, max_points
from explorer.model.encoding import encode
from explorer.store import map_cache
from explorer.store.codes_file import CodesError, read_codes
from explorer.store.codes_fit import check_fits, codes_rows, load_codes_images
from explorer.train.memory import OverBudget

from tests.test_encode import DIGITS, MNIST, REPO, own_cache  # noqa: F401 (own_cache: an autouse fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """Calls of the encoder over a split (map_cache.encode_sharded), each made slow so that callers overlap."""
    calls, real = [], map_cache.encode_sharded

    def slow(*a, **k):
        calls.append(1)
        time.sleep(0.3)
        return real(*a, **k)

    monkeypatch.setattr(map_cache, "encode_sharded", slow)
    return calls


def digits_both():
    model = load_model(DIGITS).eval()
    x = load_split(DatasetRef.of(model), "both").x
    return model, x, map_cache.split_encoding_name(DIGITS, model, "both")


def test_a_second_request_reads_memory_then_a_new_process_reads_the_file(counted):
    model, x, name = digits_both()
    first = SplitEncodings()
    enc = first.get(("k", "digits@both"), model, x, name)
    assert first.get(("k", "digits@both"), model, x, name) is enc and first.peek(("k", "digits@both")) is enc
    assert len(counted) == 1
    map_cache._memory.clear()  # another server process: only the file cache is left
    again = SplitEncodings().get(("k", "digits@both"), model, x, name)
    assert len(counted) == 1
    np.testing.assert_array_equal(again.mean, enc.mean)
    np.testing.assert_allclose(enc.mean, encode(model, x).mean, atol=1e-5)


def test_eight_sessions_asking_at_once_encode_once(counted):
    model, x, name = digits_both()
    shared, got, waited = SplitEncodings(), [], []
    barrier = threading.Barrier(8)

    def session() -> None:
        barrier.wait()
        got.append(shared.get(("k", "both"), model, x, name, lambda f, text, s: waited.append(text)))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counted) == 1 and shared.computed == 1
    assert all(g is got[0] for g in got) and len(got) == 8
    assert waited  # each waiting session is shown the work's progress


def test_the_progress_is_a_count_in_chunks():
    from explorer.latent.sharded import encode_sharded

    model, x, _ = digits_both()
    texts = []
    encode_sharded(model, x, chunk=500, progress=lambda f, text: texts.append((round(f, 3), text)))
    assert texts == [(0.0, "Encoding images: 0 of 1,797"), (0.278, "Encoding images: 500 of 1,797"),
                     (0.556, "Encoding images: 1,000 of 1,797"), (0.835, "Encoding images: 1,500 of 1,797"),
                     (1.0, "Encoded 1,797 images")]


def test_a_failed_encoding_is_retried_by_the_next_request(monkeypatch):
    model, x, name = digits_both()
    shared = SplitEncodings()
    monkeypatch.setattr(map_cache, "encode_sharded", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        shared.get("k", model, x, None)
    monkeypatch.undo()
    assert shared.get("k", model, x, None).mean.shape == (1797, 2)


def test_the_grey_split_scored_is_what_encode_scores():
    ref = DatasetRef.of(load_model(DIGITS))
    grey = load_split_images(ref, "both")
    assert grey.x.shape == (1797, 1, 8, 8) and grey.from_train.sum() == 1438
    assert point_name(True, 3) == "training image 3" and point_name(False, 0) == "test image 0"


def test_slow_projections_are_bounded_and_pca_is_not():
    assert max_points("pca", 70_000) == 70_000 and max_points("tsne", 70_000) == 10_000
    assert max_points("tsne", 5_000) == 5_000
    check_points("pca", 1_000_000)
    with pytest.raises(ValueError, match="t-SNE maps at most 10,000 points here, not 70,000"):
        check_points("tsne", 70_000)


def test_the_memory_budget_refuses_a_split_too_large(monkeypatch):
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "100")
    check_images_memory(10_000, (1, 28, 28), "the test split")  # 63 MB
    with pytest.raises(OverBudget, match=r"mapping both splits \(70,000 images\) would hold about 419 MB"):
        check_images_memory(70_000, (1, 28, 28), "both splits")


# -- codes files ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_codes(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("codes") / "codes.npz"
    assert main(["encode", str(DIGITS), "--split", "both", "--out", str(out), "--quiet"]) == 0
    return out.read_bytes()


def rewrite(raw: bytes, **arrays) -> bytes:
    """The file with some members replaced (as a person with a hex editor could)."""
    with np.load(io.BytesIO(raw)) as f:
        members = {k: f[k] for k in f.files}
    members.update(arrays)
    buf = io.BytesIO()
    np.savez(buf, **members)
    return buf.getvalue()


def test_a_codes_file_from_bytes_fits_its_model_and_finds_its_images(digits_codes):
    codes = read_codes(digits_codes, name="codes.npz")
    model = load_model(DIGITS)
    check_fits(codes, model, digest=codes.meta["digest"])
    grey, rows = load_codes_images(codes, DatasetRef.of(model))
    assert torch.equal(grey.x[rows], load_split_images(DatasetRef.of(model), "both").x)
    # rows in another order find their own images
    perm = np.random.default_rng(0).permutation(len(codes.mean))
    shuffled = read_codes(rewrite(digits_codes, **{k: getattr(codes, k)[perm] for k in
                                                   ("mean", "std", "labels", "indices", "from_train")}))
    _, rows2 = load_codes_images(shuffled, DatasetRef.of(model))
    assert np.array_equal(rows2, rows[perm])


def test_codes_of_another_model_name_what_differs(digits_codes):
    codes = read_codes(digits_codes)
    mnist = load_model(MNIST)
    with pytest.raises(CodesError) as e:
        check_fits(codes, mnist, name="codes.npz")
    assert "codes.npz does not fit this model: data set digits in the file, mnist for the model" in str(e.value)
    vae50 = load_model(REPO / "trained" / "mnist_vae50.safetensors")
    with pytest.raises(CodesError, match="latent size 2 in the file, 50 in the model; data set digits"):
        check_fits(codes, vae50)
    with pytest.raises(CodesError, match="written by checkpoint digits_vae2.safetensors"):
        check_fits(codes, load_model(DIGITS), digest="0123456789abcdef")


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"not a zip at all", "is not a codes file"),
    (lambda raw: raw[: len(raw) // 2], "is not a codes file"),
    (lambda raw: rewrite(raw, mean=np.full((1797, 2), np.nan, np.float32)), "is damaged"),
    (lambda raw: rewrite(raw, std=-np.ones((1797, 2), np.float32)), "is damaged"),
    (lambda raw: rewrite(raw, labels=np.full(1797, -5)), "a label below -1"),
    (lambda raw: rewrite(raw, mean=np.zeros((1797, 3), np.float32)), "is damaged"),
    (lambda raw: rewrite(raw, indices=np.arange(1797).astype(str)), "is damaged"),
    (lambda raw: rewrite(raw, meta=np.array([1, 2])), "is not a codes file"),
])
def test_a_damaged_or_hostile_codes_file_is_one_line(digits_codes, damage, message):
    with pytest.raises(CodesError, match=message) as e:
        read_codes(damage(digits_codes), name="up.npz")
    assert str(e.value).startswith("up.npz") and "\n" not in str(e.value)


def zipped(mean: np.ndarray) -> bytes:
    buf, member = io.BytesIO(), io.BytesIO()
    np.lib.format.write_array(member, mean)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mean.npy", member.getvalue())
    return buf.getvalue()


def test_a_pickle_inside_is_refused_and_sizes_are_read_before_the_arrays(digits_codes):
    with np.load(io.BytesIO(digits_codes)) as f:
        members = {k: f[k] for k in f.files}
    buf = io.BytesIO()
    np.savez(buf, **{**members, "mean": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(CodesError, match="is not a codes file"):
        read_codes(buf.getvalue())
    broken = bytearray(zipped(np.zeros((1000, 2), np.float32)))  # deflate data damaged inside the member
    start = broken.index(b"mean.npy") + 20
    broken[start:start + 40] = bytes(b ^ 0x5A for b in broken[start:start + 40])
    with pytest.raises(CodesError, match="is not a codes file"):
        read_codes(bytes(broken))
    bomb = io.BytesIO()  # 400 MB of zeros in a few hundred KB
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mean.npy", b"\0" * (400 * 2**20))
    with pytest.raises(CodesError, match="holds 400 MB of arrays, more than the 128 MB allowed"):
        read_codes(bomb.getvalue(), max_bytes=128 * 2**20)


def test_rows_past_their_split_or_with_other_labels_are_refused(digits_codes):
    codes = read_codes(digits_codes)
    grey = load_split_images(DatasetRef.of(load_model(DIGITS)), "both")
    codes.indices[-1] = 1438
    with pytest.raises(CodesError, match=r"past the end of their split \(359 test, 1,438 training"):
        codes_rows(codes, grey)
    codes = read_codes(digits_codes)
    codes.labels[:] = (codes.labels + 1) % 10
    with pytest.raises(CodesError, match="labels are not those of the images"):
        codes_rows(codes, grey)
