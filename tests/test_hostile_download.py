"""A mirror that drips: 1 KB at a time, never slow enough for the socket's timeout, is stopped by the download's
deadline for the whole file, so a training waiting on it gives its slot back (issue 25, item 7)."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from explorer.data import download
from explorer.data.download import Source


class Drip(BaseHTTPRequestHandler):
    """1 KB every 0.1 s for at most 60 s, with no Content-Length."""
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.send_response(200)
        self.end_headers()
        end = time.monotonic() + 60
        try:
            while time.monotonic() < end:
                self.wfile.write(b"\0" * 1024)
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def drip(monkeypatch: pytest.MonkeyPatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


def test_a_dripping_mirror_is_timed_out_as_a_whole(drip: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(download, "DEADLINE_S", 2.0)
    monkeypatch.setitem(download.SOURCES, "frey", Source(mirrors=(drip,)))
    outcome: list[BaseException | None] = []

    def fetch() -> None:
        try:
            download.fetch("frey", "frey_rawface.mat", tmp_path / "cache")
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            outcome.append(e)

    t0 = time.monotonic()
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(20)
    assert outcome, f"still downloading after {time.monotonic() - t0:.0f} s"
    assert isinstance(outcome[0], OSError) and "more than 2 s" in str(outcome[0]), outcome
    assert time.monotonic() - t0 < 10
    assert not list((tmp_path / "cache").iterdir())  # the partial file is gone
