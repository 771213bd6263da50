"""Hostile pictures, dataset files, mirrors and folders: a decompression bomb costs no more memory than
the cap, a gzip bomb from a mirror is rejected while streaming its checksum, a shared server's data box
stays inside its roots, and the shipped Streamlit config hides tracebacks (issue 10, items 8, 9, 10)."""
from __future__ import annotations

import gzip
import io
import json
import struct
import threading
import tomllib
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.data import download, image_from_bytes, load_dataset
from explorer.data.download import Source
from explorer.data.folder import load_folder
from explorer.data.roots import ROOTS_ENV, allowed_data_dir
from hostile_files import PEAKS, REPO, run_measured

MB = 2**20


def png_bomb(side: int = 12000) -> bytes:
    """A valid side x side RGBA PNG of zeros: 2.5 MB on disk, side**2 * 4 bytes (576 MB) once decoded."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    z, rows = zlib.compressobj(1), b"\0" * (1 + 4 * side) * 100
    idat = b"".join(z.compress(rows) for _ in range(side // 100)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gzip_bomb(gib: int = 1) -> bytes:
    """A gzip stream of gib GiB of zeros in about 1 MB: 16 MiB members, concatenated (still one gzip file)."""
    return gzip.compress(b"\0" * (16 * MB), compresslevel=9) * (64 * gib)


def small_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


MEASURE_PICTURE = """
import json, resource, sys
from explorer.data import image_from_bytes
image_from_bytes(open(sys.argv[1], "rb").read(), (1, 28, 28))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
try:
    image_from_bytes(open(sys.argv[2], "rb").read(), (1, 28, 28))
    print(json.dumps("accepted"))
except ValueError as e:
    print(json.dumps(str(e)))
"""


def test_a_png_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(small_png())
    (tmp_path / "bomb.png").write_bytes(png_bomb())
    code, out, err, peak = run_measured(MEASURE_PICTURE, [str(tmp_path / "ok.png"), str(tmp_path / "bomb.png")],
                                        tmp_path)
    assert code == 0, err
    baseline, message = out.splitlines()
    assert "12000x12000 pixels; at most 16 megapixels" in json.loads(message)
    PEAKS["12000x12000 PNG"] = (peak, int(baseline))
    assert peak < int(baseline) + 64, f"peak {peak} MB against {baseline} MB for a small picture"  # not 3.3 GB


def test_a_large_jpeg_is_read_at_a_reduced_scale_and_a_folder_skips_a_bomb(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (5000, 4000), 255).save(buf, format="JPEG")  # 20 megapixels: over the cap, but a JPEG
    x = image_from_bytes(buf.getvalue(), (1, 28, 28))
    assert tuple(x.shape) == (1, 28, 28) and float(x.min()) > 0.9
    (tmp_path / "a.png").write_bytes(small_png())
    (tmp_path / "b.png").write_bytes(small_png())
    (tmp_path / "bomb.png").write_bytes(png_bomb(6000))  # 36 megapixels
    data = load_folder(tmp_path, test_fraction=0.0)
    assert len(data.train_x) == 2 and any("unreadable" in n and "bomb.png" in n for n in data.notes)


class Mirror(BaseHTTPRequestHandler):
    """Serves FILES with no Content-Length, as a hostile mirror may: only the stream tells the size."""
    FILES: dict[str, bytes] = {}
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        body = self.FILES.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        for i in range(0, len(body or b""), 1 << 16):
            self.wfile.write(body[i:i + (1 << 16)])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_gzip_bomb_from_a_mirror_is_rejected_while_its_checksum_streams(mirror, monkeypatch, tmp_path: Path) -> None:
    name = "t10k-images-idx3-ubyte.gz"
    monkeypatch.setattr(Mirror, "FILES", {name: gzip_bomb()})
    monkeypatch.setitem(download.SOURCES, "mnist", Source(mirrors=(mirror,), md5={name: "0" * 32}))
    tracemalloc.start()
    try:
        with pytest.raises(OSError, match="unpacks to more than 64 MB"):
            download.fetch("mnist", name, tmp_path / "cache")
        peak = tracemalloc.get_traced_memory()[1] // MB
    finally:
        tracemalloc.stop()
    PEAKS["1 GiB gzip bomb (MD5 check)"] = (peak, 0)
    assert peak < 16, f"{peak} MB for a checksum"  # it unpacks to 1,024 MB
    assert not list((tmp_path / "cache").iterdir())  # the rejected file is gone


def test_a_download_larger_than_any_dataset_file_is_stopped(mirror, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", MB)
    monkeypatch.setattr(Mirror, "FILES", {"frey_rawface.mat": b"\0" * (3 * MB)})
    monkeypatch.setitem(download.SOURCES, "frey", Source(mirrors=(mirror,)))
    with pytest.raises(OSError, match="passed 1 MB"):
        download.fetch("frey", "frey_rawface.mat", tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())


def test_a_gzip_bomb_in_a_data_folder_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip_bomb())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 0])))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="unpacks to more than 64 MB"):
            load_dataset("fashion-mnist", tmp_path, test_only=True, download=False)
        peak = tracemalloc.get_traced_memory()[1] // MB
    finally:
        tracemalloc.stop()
    assert peak < 80, peak  # the cap and a chunk, not 1 GiB


def test_a_shared_servers_data_box_stays_inside_its_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, secret = tmp_path / "data", tmp_path / "secret"
    (root / "faces").mkdir(parents=True)
    secret.mkdir()
    (root / "escape").symlink_to(secret)
    monkeypatch.delenv(ROOTS_ENV, raising=False)
    assert allowed_data_dir(str(secret), remote=False) == str(secret)  # a local run: the user's own disk
    with pytest.raises(ValueError, match="does not let its users choose"):
        allowed_data_dir(str(root), remote=True)
    monkeypatch.setenv(ROOTS_ENV, str(root))
    assert allowed_data_dir("faces", remote=True) == str(root / "faces")
    assert allowed_data_dir(str(root / "faces"), remote=False) == str(root / "faces")
    messages = set()
    for path in (secret, root / "escape", root / ".." / "secret", "/etc", "/no/such/folder"):
        with pytest.raises(ValueError) as e:
            allowed_data_dir(str(path), remote=True)
        messages.add(str(e.value))
    assert len(messages) == 1 and "must be inside" in messages.pop()  # the same words: no path is revealed


def test_the_shipped_streamlit_config_shows_no_tracebacks() -> None:
    from streamlit.config import ShowErrorDetailsConfigOptions

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
