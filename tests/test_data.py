"""Datasets: the download mechanism against a local HTTP server (never the internet), where files are
looked for, the real MNIST, the bundled test split, Frey Face from a .mat written here, folders of
pictures and uploads."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import struct
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from explorer.data import DATASETS, DataNotFound, image_from_bytes, load_dataset, match_background
from explorer.data import download
from explorer.data.base import split_indices
from explorer.data.download import Source
from explorer.data.idx import read_idx
from explorer.data.mnist import FASHION_CLASSES, FILES
from explorer.data.paths import ENV_VAR, cache_dir

ORIGINAL_SOURCES = dict(download.SOURCES)  # before the autouse fixture swaps the mirrors out
DEAD = "http://127.0.0.1:9/"  # nothing listens there: a connection is refused at once


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test: its own empty cache, no EXPLORER_DATA_DIR, no proxy, and mirrors that go nowhere."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in (ENV_VAR, "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    for name, source in ORIGINAL_SOURCES.items():
        monkeypatch.setitem(download.SOURCES, name, dataclasses.replace(source, mirrors=(DEAD,)))


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www; .hits lists the paths requested."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            hits.append(self.path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{httpd.server_port}/", hits=hits)
    httpd.shutdown()
    httpd.server_close()


# --- fake IDX files -------------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def fake_mnist(n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, bytes]:
    """filename -> uncompressed IDX content, tiny 5x4 images (shape is not MNIST's on purpose)."""
    rng = np.random.default_rng(seed)
    return {FILES["train_x"]: idx_bytes(rng.integers(0, 256, (n_train, 5, 4))),
            FILES["train_y"]: idx_bytes(rng.integers(0, 10, n_train)),
            FILES["test_x"]: idx_bytes(rng.integers(0, 256, (n_test, 5, 4))),
            FILES["test_y"]: idx_bytes(rng.integers(0, 10, n_test))}


def write_gz(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(gzip.compress(content))
    return directory


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def serve_mnist(monkeypatch, server, *mirrors: str, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Point the mnist mirrors at the server's folders, expecting the MD5s of files (default: fake_mnist())."""
    files = files or fake_mnist()
    monkeypatch.setitem(download.SOURCES, "mnist", Source(mirrors=tuple(server.url + m + "/" for m in mirrors),
                                                          md5={f: md5(c) for f, c in files.items()}))
    return files


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(".part-*")) if directory.exists() else []


# --- download: fetch, verify, cache ---------------------------------------------------------------

def test_download_verifies_then_caches(monkeypatch, server):
    files = serve_mnist(monkeypatch, server, "good")
    write_gz(server.root / "good", files)
    data = load_dataset("mnist")
    assert data.train_x.shape == (6, 1, 5, 4) and data.test_x.shape == (4, 1, 5, 4)
    expected = np.frombuffer(files[FILES["train_x"]], np.uint8, offset=16).reshape(6, 5, 4) / 255
    assert torch.allclose(data.train_x[:, 0], torch.from_numpy(expected).float())
    assert data.notes == []  # a download was checked against the table
    cache = cache_dir("mnist")
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES.values())  # no temporary files left
    assert len(server.hits) == 4
    again = load_dataset("mnist", download=False)  # from the cache now
    assert torch.equal(again.test_x, data.test_x) and len(server.hits) == 4


def corrupt_content(files: dict[str, bytes], name: str) -> bytes:
    data = bytearray(files[name])
    data[-1] ^= 0xFF  # one pixel changed: still valid IDX, wrong MD5
    return gzip.compress(bytes(data))


@pytest.mark.parametrize("corruption", ["content", "truncated", "not gzip"])
def test_corrupted_download_is_rejected_and_not_cached(monkeypatch, server, corruption):
    files = serve_mnist(monkeypatch, server, "bad")
    write_gz(server.root / "bad", files)
    target = server.root / "bad" / FILES["train_x"]
    bad = {"content": corrupt_content(files, FILES["train_x"]),
           "truncated": target.read_bytes()[:-40],
           "not gzip": b"<html>404 but served as 200</html>"}[corruption]
    target.write_bytes(bad)
    with pytest.raises(DataNotFound) as err:
        load_dataset("mnist")
    message = str(err.value)
    assert "rejected" in message and FILES["train_x"] in message
    cache = cache_dir("mnist")
    assert not (cache / FILES["train_x"]).exists() and leftovers(cache) == []


def test_next_mirror_is_tried_after_a_missing_or_corrupt_file(monkeypatch, server):
    files = serve_mnist(monkeypatch, server, "missing", "bad", "good")
    write_gz(server.root / "good", files)
    write_gz(server.root / "bad", files)
    (server.root / "bad" / FILES["test_x"]).write_bytes(corrupt_content(files, FILES["test_x"]))
    data = load_dataset("mnist")
    assert len(data.test_x) == 4
    assert f"/missing/{FILES['test_x']}" in server.hits and f"/good/{FILES['test_x']}" in server.hits
    assert f"/good/{FILES['train_x']}" not in server.hits  # bad/ served a good copy of that one


def test_partial_cache_fetches_only_what_is_missing(monkeypatch, server):
    files = serve_mnist(monkeypatch, server, "good")
    write_gz(server.root / "good", files)
    write_gz(cache_dir("mnist"), {FILES["train_x"]: files[FILES["train_x"]]})  # an interrupted earlier run
    load_dataset("mnist")
    assert f"/good/{FILES['train_x']}" not in server.hits and len(server.hits) == 3


def test_fashion_mnist_checks_the_published_md5_of_the_gz(monkeypatch, server):
    files = fake_mnist(seed=1)
    write_gz(server.root / "fm", files)
    served = {f: md5((server.root / "fm" / f).read_bytes()) for f in files}
    monkeypatch.setitem(download.SOURCES, "fashion-mnist", Source(mirrors=(server.url + "fm/",), file_md5=served))
    data = load_dataset("fashion-mnist")
    assert data.name == "fashion-mnist" and data.classes == FASHION_CLASSES and len(data.train_x) == 6
    assert (cache_dir("fashion-mnist") / FILES["train_x"]).is_file()
    assert not (cache_dir("mnist")).exists()  # each dataset has its own cache folder


def test_fashion_mnist_rejects_a_gz_that_differs_from_the_published_one(monkeypatch, server):
    files = fake_mnist(seed=1)
    write_gz(server.root / "fm", files)
    served = {f: md5((server.root / "fm" / f).read_bytes()) for f in files}
    served[FILES["test_y"]] = "0" * 32
    monkeypatch.setitem(download.SOURCES, "fashion-mnist", Source(mirrors=(server.url + "fm/",), file_md5=served))
    with pytest.raises(DataNotFound, match="checksum mismatch"):
        load_dataset("fashion-mnist", test_only=True)
    assert not (cache_dir("fashion-mnist") / FILES["test_y"]).exists()


def test_offline_error_names_the_files_and_the_directory():
    with pytest.raises(DataNotFound) as err:  # mirrors refuse the connection, as when offline
        load_dataset("mnist")
    message = str(err.value)
    assert all(f in message for f in FILES.values())
    assert str(cache_dir("mnist")) in message and ENV_VAR in message and "download failed" in message


def test_download_false_never_touches_the_network(monkeypatch, server):
    serve_mnist(monkeypatch, server, "good")
    write_gz(server.root / "good", fake_mnist())
    with pytest.raises(DataNotFound, match="download=False") as err:
        load_dataset("fashion-mnist", download=False)
    assert str(cache_dir("fashion-mnist")) in str(err.value)
    with pytest.raises(DataNotFound, match="download=False"):
        load_dataset("mnist", download=False)
    assert server.hits == []


def test_data_not_found_is_a_file_not_found_error():
    assert issubclass(DataNotFound, FileNotFoundError)  # the CLI reports FileNotFoundError cleanly


# --- where files are looked for -------------------------------------------------------------------

def test_explicit_dir_then_env_var_then_cache(tmp_path, monkeypatch):
    explicit = write_gz(tmp_path / "explicit", fake_mnist(n_test=1))
    env = write_gz(tmp_path / "env" / "mnist", fake_mnist(n_test=2))  # the <dataset> subfolder form
    write_gz(cache_dir("mnist"), fake_mnist(n_test=3))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert len(load_dataset("mnist", explicit).test_x) == 1
    assert len(load_dataset("mnist").test_x) == 2
    monkeypatch.delenv(ENV_VAR)
    assert len(load_dataset("mnist").test_x) == 3
    # an explicit directory without the files: the next place is used, and a note says so
    data = load_dataset("mnist", tmp_path / "empty")
    assert len(data.test_x) == 3 and any("is not in" in n for n in data.notes)


def test_env_dir_may_hold_the_files_directly_and_unpacked(tmp_path, monkeypatch):
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, content in fake_mnist(n_test=2).items():
        (flat / name.removesuffix(".gz")).write_bytes(content)  # gunzipped by the user
    monkeypatch.setenv(ENV_VAR, str(flat))
    assert len(load_dataset("mnist", download=False).test_x) == 2


def test_local_files_that_differ_from_the_official_ones_get_a_note(tmp_path):
    data = load_dataset("mnist", write_gz(tmp_path / "d", fake_mnist()))
    assert any("differ from the official mnist files" in n for n in data.notes)


def test_cache_dir_follows_xdg_then_home(tmp_path, monkeypatch):
    assert cache_dir("frey") == tmp_path / "cache" / "vae-explorer" / "frey"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("mnist") == tmp_path / "home" / ".cache" / "vae-explorer" / "mnist"


def test_bad_idx_files_are_clear_errors(tmp_path):
    files = fake_mnist()
    files[FILES["test_y"]] = idx_bytes(np.array([1, 2]))  # 2 labels for 4 images
    with pytest.raises(ValueError, match="labels"):
        load_dataset("mnist", write_gz(tmp_path / "d", files))
    files = fake_mnist()
    files[FILES["test_x"]] = files[FILES["test_x"]][:-3]
    with pytest.raises(ValueError, match="truncated"):
        load_dataset("mnist", write_gz(tmp_path / "e", files))


# --- the checksum tables, against the real data ---------------------------------------------------

def test_tables_cover_every_file_with_public_mirrors():
    for name in ("mnist", "fashion-mnist"):
        source = ORIGINAL_SOURCES[name]
        assert set(source.md5) | set(source.file_md5) == set(FILES.values())
        assert len(source.mirrors) >= 2
    for source in ORIGINAL_SOURCES.values():
        assert all(m.startswith(("https://", "http://")) and m.endswith("/") for m in source.mirrors)


# --- real MNIST and the bundled test split --------------------------------------------------------

def test_real_mnist_loads(mnist_dir):
    data = load_dataset("mnist", mnist_dir)
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    assert data.train_x.min() == 0 and data.train_x.max() == 1
    assert data.train_y[:5].tolist() == [5, 0, 4, 1, 9] and data.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(data.test_y).tolist()[:2] == [980, 1135]
    assert data.classes == [str(i) for i in range(10)]
    assert data.notes == []  # no checksum note: the files match the table's official MD5s


def test_bundled_test_split_equals_the_shared_files(mnist_dir):
    data = load_dataset("mnist", test_only=True)  # empty cache, no env var, no network
    assert data.train_x.shape == (0, 1, 28, 28) and data.train_y.shape == (0,)
    images = torch.from_numpy(read_idx(mnist_dir / FILES["test_x"]).astype(np.float32) / 255)
    assert torch.equal(data.test_x[:, 0], images)
    assert torch.equal(data.test_y, torch.from_numpy(read_idx(mnist_dir / FILES["test_y"]).astype(np.int64)))
    assert data.notes == []  # the bundled files match the official MD5s


def test_mnist_test_only_never_downloads(monkeypatch, server):
    serve_mnist(monkeypatch, server, "good")
    assert len(load_dataset("mnist", test_only=True).test_x) == 10000 and server.hits == []


# --- Frey Face ------------------------------------------------------------------------------------

def frey_images(n: int) -> np.ndarray:
    """(n, 28, 20) with an asymmetric pattern: bright top row, grey left column, image number bottom right."""
    imgs = np.zeros((n, 28, 20), np.uint8)
    imgs[:, 0, :] = 255
    imgs[:, :, 0] = 128
    imgs[:, 27, 19] = np.arange(n) * 10
    return imgs


def write_frey(path: Path, imgs: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"ff": imgs.reshape(len(imgs), -1).T})  # one row-major image per column
    return path


def test_frey_orientation_and_split(tmp_path):
    imgs = frey_images(7)
    write_frey(tmp_path / "frey_rawface.mat", imgs)
    data = load_dataset("frey", tmp_path)
    assert data.train_x.shape == (6, 1, 28, 20) and data.test_x.shape == (1, 1, 28, 20)
    assert data.train_y is None and data.test_y is None
    everything = torch.cat([data.train_x, data.test_x])[:, 0]
    order = (everything[:, 27, 19] * 255 / 10).round().long()
    assert sorted(order.tolist()) == list(range(7))
    assert torch.allclose(everything, torch.from_numpy(imgs[order.numpy()] / 255).float())
    again = load_dataset("frey", tmp_path, test_only=True)
    assert len(again.train_x) == 0 and torch.equal(again.test_x, data.test_x)


def test_frey_download_is_validated_by_shape(monkeypatch, server):
    write_frey(server.root / "wrong" / "frey_rawface.mat", frey_images(3))
    write_frey(server.root / "right" / "frey_rawface.mat", np.zeros((1965, 28, 20), np.uint8))
    monkeypatch.setitem(download.SOURCES, "frey", Source(mirrors=(server.url + "wrong/",)))
    with pytest.raises(DataNotFound, match="1965"):
        load_dataset("frey")
    assert not cache_dir("frey").exists() or list(cache_dir("frey").iterdir()) == []
    monkeypatch.setitem(download.SOURCES, "frey", Source(mirrors=(server.url + "wrong/", server.url + "right/")))
    data = load_dataset("frey")
    assert len(data.train_x) + len(data.test_x) == 1965 and len(data.test_x) == 196
    assert (cache_dir("frey") / "frey_rawface.mat").is_file()


def test_frey_file_without_ff_is_a_clear_error(tmp_path):
    scipy.io.savemat(tmp_path / "frey_rawface.mat", {"faces": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="'ff'"):
        load_dataset("frey", tmp_path)


# --- a folder of pictures -------------------------------------------------------------------------

def save(path: Path, img: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


@pytest.fixture
def pictures(tmp_path) -> Path:
    """cats/: 5 light pictures (PNG and JPEG), dogs/: 5 dark ones, plus a text file and a broken PNG."""
    root = tmp_path / "pictures"
    for i in range(5):
        save(root / "cats" / f"cat{i}.{'png' if i % 2 else 'jpg'}", Image.new("L", (40, 30 + i), 220))
        save(root / "dogs" / f"dog{i}.png", Image.new("RGB", (30, 30), (40, 40, 40)))
    (root / "notes.txt").write_text("not a picture")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (root / ".DS_Store").write_bytes(b"\0")
    return root


def test_folder_grey_skips_junk_and_reports_it(pictures):
    data = load_dataset("folder", pictures, size=None, rgb=False)  # as the CLI calls it
    assert data.train_x.shape == (9, 1, 28, 28) and data.test_x.shape == (1, 1, 28, 28)
    assert data.classes == ["cats", "dogs"]
    x, y = torch.cat([data.train_x, data.test_x]), torch.cat([data.train_y, data.test_y])
    assert ((x.mean(dim=(1, 2, 3)) > 0.5) == (y == 0)).all()  # cats are light, dogs dark
    assert sorted(y.tolist()) == [0] * 5 + [1] * 5
    notes = " ".join(data.notes)
    assert "skipped 1 file(s)" in notes and "not images" in notes
    assert "skipped 1 unreadable" in notes and "broken.png" in notes


def test_folder_rgb_size_and_colour(tmp_path):
    save(tmp_path / "red.png", Image.new("RGB", (60, 20), (255, 0, 0)))
    save(tmp_path / "blue.jpg", Image.new("RGB", (20, 60), (0, 0, 255)))
    save(tmp_path / "clear.png", Image.new("RGBA", (20, 20), (0, 0, 0, 0)))  # transparent -> white
    data = load_dataset("folder", tmp_path, size=(16, 12), rgb=True)
    x = torch.cat([data.train_x, data.test_x])
    assert x.shape == (3, 3, 16, 12) and data.train_y is None and data.classes == []
    means = sorted(tuple(round(v) for v in img.mean(dim=(1, 2)).tolist()) for img in x)
    assert means == [(0, 0, 1), (1, 0, 0), (1, 1, 1)]
    grey = load_dataset("folder", tmp_path, size=(64,))
    assert grey.image_shape == (1, 64, 64)


def test_folder_split_is_deterministic_and_test_only_matches(pictures):
    a = load_dataset("folder", pictures, size=(8, 8))
    b = load_dataset("folder", pictures, size=(8, 8), test_only=True)
    assert len(b.train_x) == 0 and torch.equal(a.test_x, b.test_x) and torch.equal(a.test_y, b.test_y)
    assert torch.equal(a.train_x, load_dataset("folder", pictures, size=(8, 8)).train_x)


@pytest.mark.parametrize("content", ["empty", "only junk", "only broken"])
def test_folder_without_readable_images_is_a_clear_error(tmp_path, content):
    if content == "only junk":
        (tmp_path / "a.txt").write_text("x")
    if content == "only broken":
        (tmp_path / "a.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no images found|could be read"):
        load_dataset("folder", tmp_path)


def test_folder_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="data_dir"):
        load_dataset("folder")
    with pytest.raises(FileNotFoundError):
        load_dataset("folder", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="size"):
        load_dataset("folder", tmp_path, size=(0, 5))


# --- uploads ------------------------------------------------------------------------------------

def png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_image_from_bytes_keeps_left_and_right():
    img = Image.new("L", (28, 28), 0)
    img.paste(255, (14, 0, 28, 28))  # right half white
    x = image_from_bytes(png_bytes(img), (1, 28, 28))
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert x[0, :, :14].max() == 0 and x[0, :, 14:].min() == 1
    rgb = image_from_bytes(png_bytes(Image.new("RGB", (50, 40), (0, 255, 0)), "JPEG"), (3, 16, 16))
    assert rgb.shape == (3, 16, 16) and 0 <= rgb.min() and rgb.max() <= 1 and rgb[1].mean() > 0.9


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n truncated"])
def test_image_from_bytes_rejects_non_images(data):
    with pytest.raises(ValueError):
        image_from_bytes(data, (1, 28, 28))


def test_image_from_bytes_rejects_bad_shapes():
    with pytest.raises(ValueError, match="image_shape"):
        image_from_bytes(png_bytes(Image.new("L", (4, 4))), (2, 28, 28))


# --- digits, registry, split ---------------------------------------------------------------------

def test_digits_shapes():
    data = load_dataset("digits")
    assert data.train_x.shape == (1438, 1, 8, 8) and data.test_x.shape == (359, 1, 8, 8)
    assert 0 <= data.train_x.min() and data.train_x.max() == 1 and data.test_y.dtype == torch.int64
    assert torch.equal(load_dataset("digits", test_only=True).test_x, data.test_x)


def test_registry_rejects_unknown_names_and_options():
    assert {"mnist", "fashion-mnist", "digits", "frey", "folder"} <= set(DATASETS)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="no option size"):
        load_dataset("mnist", size=(28, 28))


def test_split_indices_is_a_seeded_partition():
    train, test = split_indices(50, 0.1, seed=3)
    assert len(test) == 5 and sorted(torch.cat([train, test]).tolist()) == list(range(50))
    assert torch.equal(test, split_indices(50, 0.1, seed=3)[1])
    assert not torch.equal(test, split_indices(50, 0.1, seed=4)[1])
    assert [len(t) for t in split_indices(1, 0.1, 0)] == [1, 0]
    assert [len(t) for t in split_indices(3, 0.1, 0)] == [2, 1]


def test_match_background_inverts_a_dark_on_light_drawing_for_white_on_black_data():
    mnist_like = torch.zeros(5, 1, 28, 28)
    mnist_like[:, :, 8:20, 12:16] = 1.0  # white strokes on black
    drawing = torch.ones(1, 28, 28)
    drawing[:, 8:20, 12:16] = 0.0  # the same stroke, black on white
    x, inverted = match_background(drawing, mnist_like)
    assert inverted and torch.equal(x, mnist_like[0])
    same, inverted = match_background(mnist_like[1], mnist_like)
    assert not inverted and torch.equal(same, mnist_like[1])
    photo = torch.rand(3, 16, 16)  # colour: left alone
    assert match_background(photo, torch.zeros(4, 3, 16, 16))[1] is False
