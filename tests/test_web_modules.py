"""The page's modules are real ES modules: served as files over a local http.server and imported by
`<script type="module">` in Chromium, each module gives the exports the bundler reads in it, and a decode by the
unbundled forward pass equals, to the bit, the bundled one's and the bundled Streamlit map's."""
from __future__ import annotations

import base64
import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.web.bundle import exported_names
from explorer.web.payload import map_payload
from explorer.web.sources import HERE
from tests.browser_harness import add_module
from tests.test_web_forward import browser  # noqa: F401 (fixture)

MODULES = sorted(p.relative_to(HERE).as_posix() for p in HERE.rglob("*.js"))


def test_the_core_knows_no_host() -> None:
    """Only the adapters (streamlit/, notebook/) speak to a host: the core takes a root, a blob and callbacks."""
    for name in MODULES:
        if not name.startswith(("streamlit/", "notebook/")):
            text = (HERE / name).read_text(encoding="utf-8")
            assert not re.search(r"setTriggerValue|setStateValue|streamlit|vaex:drawn|\bdocument\.cookie|save_changes",
                                 text), name
            assert "parentElement" not in re.sub(r"\.parentElement\b", "", text), name


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 (no request lines in the test's output)
        pass


@pytest.fixture(scope="module")
def served():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HERE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def page(browser, served):  # noqa: F811 (the fixture)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/")
    imports = "\n".join(f'import * as m{i} from "/{name}";' for i, name in enumerate(MODULES))
    table = ", ".join(f'"{name}": m{i}' for i, name in enumerate(MODULES))
    page.add_script_tag(type="module", content=f"{imports}\nwindow.__mods = {{ {table} }};")
    page.wait_for_function("() => window.__mods", timeout=10_000)
    assert not errors
    yield page
    page.close()


@pytest.mark.browser
def test_each_module_imports_with_the_exports_the_bundler_reads(page) -> None:
    got = page.evaluate("() => Object.fromEntries(Object.entries(window.__mods).map(([k, m]) => "
                        "[k, Object.keys(m).sort()]))")
    assert got == {name: exported_names(HERE / name) for name in MODULES}


DECODE = """([b64, zs]) => {
    const blob = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const free = window.__mods["vaenet.js"], m = free.parse(blob).model;
    const host = document.createElement("div"); host.style.width = "700px"; document.body.appendChild(host);
    window.StreamlitMap({ data: blob, parentElement: host, setTriggerValue: () => {} });
    const S = host.querySelector(".vx-root").__map;
    return { free: zs.map((z) => Array.from(free.decode(m, z))),
             bundled: zs.map((z) => Array.from(window.Bundled.decode(window.Bundled.parse(blob).model, z))),
             map: zs.map((z) => S.decodeAt(z)) };
}"""


@pytest.mark.browser
def test_a_decode_is_the_same_bundled_or_not(page) -> None:
    from explorer.latent.projection import make_projection

    add_module(page, 'import * as Bundled from "./vaenet.js";\nimport mount from "./streamlit/latent_map.js";\n'
                     "window.Bundled = Bundled; window.StreamlitMap = mount;")
    model = build_model(ModelConfig(arch="conv", hidden=(4, 8), image_shape=(1, 12, 12), latent_dim=2))
    mu = np.array([[0.1 * i, -0.2 * i] for i in range(20)])
    blob = map_payload(model, make_projection("axes"), mu, np.zeros(20), mu)
    got = page.evaluate(DECODE, [base64.b64encode(blob).decode(), [[0.3, -1.0], [2.0, 0.5], [0.0, 0.0]]])
    assert got["free"] == got["bundled"] == got["map"]
    assert len(got["free"][0]) == 144 and len({tuple(x) for x in got["free"]}) == 3
