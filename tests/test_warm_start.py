"""A server warm for the first student (explorer/ui/warm_start.py): it imports the app's modules as it starts,
then opens the pages of EXPLORER_WARM_PAGES (default: the map) itself over its own websocket, so a class that
opens the map at once finds its models, encodings and blobs in the server's caches. A real `streamlit run`."""
from __future__ import annotations

import asyncio
import re

import pytest

from explorer.ui import warm_start
from tests.browser_harness import REPO, AppServer


def test_the_pages_to_warm_are_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(warm_start.ENV, raising=False)
    assert warm_start.pages_to_warm() == ["map"]  # what every visitor opens first
    assert warm_start.pages_to_warm(" map , /decoder ") == ["map", "decoder"]
    assert warm_start.pages_to_warm("") == [] and warm_start.pages_to_warm(" , ") == []
    with pytest.raises(ValueError, match=r"EXPLORER_WARM_PAGES names 'nonesuch': the pages are map, decoder"):
        warm_start.pages_to_warm("map,nonesuch")


def test_the_visit_goes_where_the_server_listens(monkeypatch) -> None:
    from streamlit import config

    options = {"server.port": 8501, "server.address": None, "server.baseUrlPath": "", "server.sslCertFile": None}
    monkeypatch.setattr(config, "get_option", lambda k: options[k])
    assert warm_start.stream_url() == "ws://127.0.0.1:8501/_stcore/stream"
    options.update({"server.address": "0.0.0.0", "server.baseUrlPath": "/vae/"})
    assert warm_start.stream_url() == "ws://127.0.0.1:8501/vae/_stcore/stream"
    options.update({"server.address": "::1", "server.sslCertFile": "/etc/cert.pem"})
    assert warm_start.stream_url() == "wss://[::1]:8501/vae/_stcore/stream"


@pytest.mark.slow
def test_the_server_opens_the_map_itself_before_the_first_student(tmp_path) -> None:
    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), "EXPLORER_CACHE_DIR": str(tmp_path / "cache"),
           warm_start.ENV: "map"}
    with AppServer(env=env, log_path=tmp_path / "server.log") as server:
        assert re.search(r"imported \d+ modules of the app", server.wait_log("modules of the app"))
        line = server.wait_log("warmed /map in")
        assert float(re.search(r"\(([\d.]+) MB to the page\)", line).group(1)) > 1  # the map's blob: it ran
        # a first student after it is served the same page
        sent = asyncio.run(warm_start.visit(server.url.replace("http", "ws") + "/_stcore/stream", "map", 120))
        assert sent > 1_000_000
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "could not" not in log, log


@pytest.mark.slow
def test_a_page_the_app_lacks_is_one_warning_and_the_server_serves(tmp_path) -> None:
    """A typo in a setting that only saves time costs the time, not the class: the app still serves."""
    env = {"EXPLORER_TRAINED_DIR": str(REPO / "trained"), warm_start.ENV: "nonesuch"}
    with AppServer(env=env, log_path=tmp_path / "server.log") as server:
        assert "no page is warmed" in server.wait_log("EXPLORER_WARM_PAGES names 'nonesuch'")
        sent = asyncio.run(warm_start.visit(server.url.replace("http", "ws") + "/_stcore/stream", "map", 120))
        assert sent > 1_000_000  # the map page, whole
    assert "Traceback" not in (tmp_path / "server.log").read_text()
