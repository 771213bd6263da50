"""Draw your own in real Chromium: the page's preprocessing of a drawing (explorer/web/preprocess.js)
against the server's upload path (image_from_bytes + match_background, i.e. Pillow), bit for bit; and the
drawing component in a small Streamlit app, driven with the mouse. The pages that take a drawing:
tests/test_draw_pages.py."""
from __future__ import annotations

import base64
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer.data.decode import background_level, image_from_bytes, match_background
from tests.browser_harness import REPO, add_module, free_port, launch, missing_browser, wait_idle

SIDE = 280
# strokes in canvas pixels: a "7", a "0" (a closed loop), a "1" with a dot, a scribble into the corners
STROKES = {
    "seven": [[[70, 60], [210, 60], [120, 230]]],
    "zero": [[[140, 50], [90, 90], [80, 160], [110, 225], [170, 225], [200, 160], [190, 90], [140, 50]]],
    "one_dot": [[[150, 40], [140, 240]], [[60, 250]]],
    "scribble": [[[2, 3], [278, 10], [15, 270], [270, 277], [140, 140]], [[20, 140], [260, 150]]],
}


@pytest.fixture(scope="module")
def browser():
    why = missing_browser()
    if why:
        pytest.skip(f"browser test skipped: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:  # one per module: a second sync_playwright cannot start inside it
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def bare_page(browser):
    """A blank page with the component's pure code and a canvas the component's size."""
    page = browser.new_page()
    page.set_content(f'<html><body><canvas id="c" width="{SIDE}" height="{SIDE}"></canvas></body></html>')
    add_module(page, 'import * as Preprocess from "./preprocess.js";\nimport * as Strokes from "./strokes.js"; '
                     'window.Preprocess = Preprocess; window.Strokes = Strokes;')
    yield page
    page.close()


DRAW = """([strokes, width, fg, bg, shape, ref]) => {
    const canvas = document.getElementById('c'), ctx = canvas.getContext('2d');
    Strokes.clear(ctx, bg);
    for (const s of strokes) Strokes.polyline(ctx, s, width, fg);
    const im = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const out = Preprocess.toModelImage(im, shape[0], shape[1], shape[2], ref);
    return { pixels: Array.from(out.pixels), inverted: out.inverted, png: canvas.toDataURL('image/png') };
}"""


@pytest.fixture(scope="module")
def mnist_x() -> torch.Tensor:
    from explorer.data.ref import load_test_set

    return load_test_set("mnist").test_x


def _server_side(png_url: str, shape: tuple[int, int, int], ref: torch.Tensor) -> tuple[torch.Tensor, bool]:
    png = base64.b64decode(png_url.split(",", 1)[1])
    return match_background(image_from_bytes(png, shape), ref)


@pytest.mark.browser
@pytest.mark.parametrize("name", list(STROKES))
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 20, 28), (1, 28, 17), (3, 28, 28), (1, 8, 8)],
                         ids=lambda s: "x".join(map(str, s)))
def test_the_page_prepares_a_drawing_as_the_server_prepares_its_png(bare_page, mnist_x, name, shape) -> None:
    ref = mnist_x if shape[0] == 1 else torch.zeros(0, *shape)
    level = background_level(mnist_x) if shape[0] == 1 else None
    width = 22 if name != "scribble" else 9
    got = bare_page.evaluate(DRAW, [STROKES[name], width, "#000000", "#ffffff", list(shape), level])
    want, inverted = _server_side(got["png"], shape, ref)
    js = torch.tensor(got["pixels"], dtype=torch.float32).view(shape)
    assert got["inverted"] == inverted == (shape[0] == 1)  # black on white vs MNIST's white on black
    assert torch.equal(js, want), f"max diff {(js - want).abs().max():.3g}"
    assert 0 < float(want.mean()) < 1  # something was drawn and something was not


@pytest.mark.browser
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 20, 28)], ids=lambda s: "x".join(map(str, s)))
def test_white_on_black_and_grey_strokes_are_not_inverted_and_still_equal(bare_page, mnist_x, shape) -> None:
    level = background_level(mnist_x)
    for fg, bg in (("#ffffff", "#000000"), ("#c08040", "#101010"), ("rgba(255,255,255,0.5)", "#000000")):
        got = bare_page.evaluate(DRAW, [STROKES["zero"] + STROKES["one_dot"], 17, fg, bg, list(shape), level])
        want, inverted = _server_side(got["png"], shape, mnist_x)
        assert got["inverted"] is False and inverted is False
        assert torch.equal(torch.tensor(got["pixels"], dtype=torch.float32).view(shape), want), (fg, bg)


@pytest.mark.browser
def test_the_resampler_matches_pillow_on_random_planes_and_boxes(bare_page) -> None:
    """Resample.c's two passes on noise (every rounding path, negative lobes clipped) for crops and
    up- and down-scaling, against Image.resize with a box."""
    from PIL import Image

    rng = np.random.default_rng(0)
    cases = [((37, 23), (5, 9), (1.5, 2.25, 30.75, 20.0)), ((64, 64), (28, 28), (0.0, 0.0, 64.0, 64.0)),
             ((10, 12), (31, 17), (0.0, 1.0, 10.0, 11.5)), ((50, 40), (50, 30), (0.0, 5.0, 50.0, 35.0))]
    for (w, h), (ow, oh), box in cases:
        plane = rng.integers(0, 256, (h, w), dtype=np.uint8)
        want = np.asarray(Image.fromarray(plane, "L").resize((ow, oh), Image.Resampling.LANCZOS, box=box))
        got = bare_page.evaluate("""([p, w, h, box, ow, oh]) => Array.from(Preprocess.lanczosResize(
            Uint8Array.from(p), w, h, box.map(Math.fround), ow, oh))""", [plane.ravel().tolist(), w, h, box, ow, oh])
        assert np.array_equal(np.array(got, dtype=np.uint8).reshape(oh, ow), want), (w, h, ow, oh, box)


# -- the component in a real app --------------------------------------------------------------------
APP = """
import sys
sys.path.insert(0, {repo!r})
import streamlit as st
from explorer import load_model
from explorer.data.ref import load_test_set
from explorer.ui.widgets import draw_panel
from explorer.ui.state.current_model import Current

model = st.cache_resource(load_model)({model!r})
data = st.cache_resource(load_test_set)("mnist")
x = draw_panel.render(Current(model, "test:mnist_vae2", "mnist_vae2", "bundled"), data)
if x is not None:
    st.markdown(f"received: sum={{float(x.sum()):.6f}}")
kept = st.session_state.get(draw_panel.DRAWN_IMAGE)
if kept is not None:
    st.markdown(f"kept: sum={{float(kept.sum()):.6f}} shape={{tuple(kept.shape)}} "
                f"caption={{st.session_state[draw_panel.DRAWN_CAPTION]}}")
"""


@pytest.fixture(scope="module")
def draw_app(tmp_path_factory):
    """A one-component Streamlit app: the drawing panel for the bundled 2-D MNIST VAE."""
    import time
    import urllib.request

    why = missing_browser()
    if why:
        pytest.skip(f"browser test skipped: {why}")
    d = tmp_path_factory.mktemp("draw_app")
    (d / "app.py").write_text(APP.format(repo=str(REPO), model=str(REPO / "trained" / "mnist_vae2.safetensors")))
    port, log = free_port(), open(d / "log.txt", "w")  # noqa: SIM115 (open while the server runs)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(d / "app.py"), "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (d / "log.txt").read_text()
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, 15)  # its own session: the server and its children only
        proc.wait(10)
        log.close()


@pytest.mark.browser
def test_drawing_encodes_in_the_page_and_use_it_sends_the_image(browser, draw_app, mnist_x) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1000, "height": 800})
    try:
        page.set_default_timeout(60_000)
        page.goto(draw_app)
        root = page.locator(".vaex-draw[data-ready='1']")
        root.wait_for()
        wait_idle(page)
        page.evaluate("() => { window.__drawn = []; document.addEventListener('vaex:drawn', "
                      "(e) => window.__drawn.push(e.detail)); }")
        box = page.locator(".vxd-canvas").bounding_box()
        assert page.locator(".vxd-canvas").evaluate("(c) => [c.clientWidth, c.width]") == [SIDE, SIDE]
        page.mouse.move(box["x"] + 80, box["y"] + 60)
        page.mouse.down()
        for x, y in ((200, 60), (190, 100), (150, 170), (120, 240)):  # a 7
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
            page.evaluate("() => new Promise((r) => requestAnimationFrame(r))")
        page.mouse.up()
        encoded = int(root.get_attribute("data-encoded"))
        assert encoded >= 4, f"only {encoded} encodes during a stroke of 24 moves"
        recon = page.locator(".vxd-recon").evaluate("""(c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
            return [lo, hi, c.width]; }""")
        assert recon[1] - recon[0] > 100 and recon[2] >= 28, recon  # a digit, not a blank square
        drawn = page.evaluate("() => window.__drawn")
        assert len(drawn) == encoded
        last = drawn[-1]
        assert last["variational"] is True and len(last["mu"]) == 2 and len(last["sigma"]) == 2
        assert all(np.isfinite(last["mu"])) and all(s > 0 for s in last["sigma"])
        expect(page.locator(".vxd-numbers").first).to_contain_text("μ = ")
        # what the page encoded is what the server makes of the canvas's PNG, and what Python receives
        js = root.evaluate("(r) => ({pixels: Array.from(r.__draw.lastImage.pixels), inverted: "
                           "r.__draw.lastImage.inverted, png: r.__draw.canvas.toDataURL('image/png')})")
        want, inverted = _server_side(js["png"], (1, 28, 28), mnist_x)
        pixels = torch.tensor(js["pixels"], dtype=torch.float32).view(1, 28, 28)
        assert js["inverted"] is inverted is True and torch.equal(pixels, want)
        page.locator(".vxd-use").click()
        expect(page.get_by_text("received: sum=")).to_be_visible()
        text = page.get_by_text("kept: sum=").inner_text()
        assert text == (f"kept: sum={float(pixels.sum()):.6f} shape=(1, 28, 28) "
                        "caption=your drawing (inverted)"), text
        page.locator(".vxd-clear").click()
        assert page.evaluate("() => window.__drawn[window.__drawn.length - 1]") is None
        assert page.locator(".vxd-use").is_disabled()
    finally:
        page.close()


@pytest.mark.browser
def test_a_finger_draws_too(browser, draw_app) -> None:
    """Touch input: pointer events with touch-action none, so the page does not scroll instead."""
    context = browser.new_context(has_touch=True, viewport={"width": 1000, "height": 800})
    page = context.new_page()
    try:
        page.set_default_timeout(60_000)
        page.goto(draw_app)
        root = page.locator(".vaex-draw[data-ready='1']")
        root.wait_for()
        assert page.locator(".vxd-canvas").evaluate("(c) => getComputedStyle(c).touchAction") == "none"
        box = page.locator(".vxd-canvas").bounding_box()
        page.touchscreen.tap(box["x"] + 140, box["y"] + 140)
        page.wait_for_function("(r) => Number(r.dataset.encoded) >= 1", arg=root.element_handle())
        ink = root.evaluate("(r) => Array.from(r.__draw.lastImage.pixels).filter((v) => v > 0.5).length")
        assert ink > 0  # the dot, inverted to white on black
    finally:
        context.close()
