"""Images where you zoom in (issue 24 item 2), in headless Chromium with the map mounted alone as
benchmarks/bench_map.py mounts it. At 100,000 points the full view draws dots; zoomed in until few points are in
view, every point in view (counted in Python from the page's own screen coordinates) is drawn as a tile, and a
tile read back from the canvas is torch's decode of that point's mean; a click on a tile's edge picks its point
and a lasso still selects exactly the dots inside. On the 10,000 MNIST test images with a 50-D model (a PCA map,
the means sent as float16), an image tile is the image's thumbnail and a decoded tile is torch's decode."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.bench_map import map_page, synthetic, zoom_in
from explorer.web.payload import TILE_SOURCES, thumb_levels
from tests.browser_harness import REPO, launch, missing_browser
from tests.test_browser_map_scale import MOUNT, lasso

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]
N = 100_000
# a drawn tile's pixels as the canvas holds them (device px, RGBA): [x, y, s] in CSS px
READ = """([x, y, s]) => { const S = window.__m.state, r = S.r;
    return Array.from(S.base.getContext('2d').getImageData(Math.round(x * r), Math.round(y * r), Math.round(s * r),
                                                            Math.round(s * r)).data); }"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture(scope="module")
def model():
    from explorer import load_model

    return load_model(REPO / "trained" / "mnist_vae2.safetensors")


@pytest.fixture(scope="module")
def big(browser, model):
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    coords, labels = synthetic(N, seed=2)
    errors: list[str] = []
    page = map_page(browser, map_payload(model, make_projection("axes"), coords, labels, coords), errors)
    page.evaluate(MOUNT)
    yield page, coords
    assert not errors
    page.close()


def tiles(page) -> dict:
    return page.evaluate("() => { const T = window.__m.state.tiles; return { on: T.on, source: T.source, "
                         "size: T.size, drawn: T.drawn, missing: T.missing.length }; }")


def on_top(page) -> list:
    """The drawn tiles [i, x, y, s] wholly inside the plot that no later tile overlaps (tiles are drawn in order,
    frame included)."""
    S = page.evaluate("() => { const S = window.__m.state; return { w: S.w, h: S.h, M: S.M }; }")
    drawn, M = tiles(page)["drawn"], S["M"]
    out = []
    for k, (i, x, y, s) in enumerate(drawn):
        whole = x >= M["l"] and y >= M["t"] and x + s <= S["w"] - M["r"] and y + s <= S["h"] - M["b"]
        if whole and all(abs(x - x2) >= s + 4 or abs(y - y2) >= s + 4 for _, x2, y2, _ in drawn[k + 1:]):
            out.append([i, x, y, s])
    return out


def read_tile(page, x: float, y: float, s: int, H: int, W: int) -> np.ndarray:
    """The tile's red channel at the middle of each image pixel (drawn without smoothing): (H, W) in 0..255."""
    r = page.evaluate("() => window.__m.state.r")
    n = round(s * r)
    px = np.asarray(page.evaluate(READ, [x, y, s]), np.float64).reshape(n, n, 4)
    rows, cols = ((np.arange(H) + 0.5) * n / H).astype(int), ((np.arange(W) + 0.5) * n / W).astype(int)
    return px[rows][:, cols, 0]


def test_the_full_view_draws_dots(big) -> None:
    page, _ = big
    page.dblclick(".vx-over", position={"x": 5, "y": 5})  # the whole map
    page.wait_for_timeout(300)
    t = tiles(page)
    assert not t["on"] and t["drawn"] == [] and t["source"] == TILE_SOURCES["decoded"]  # no thumbnails: decoded
    drawn = page.evaluate("""() => { const S = window.__m.state, d = S.base.getContext('2d')
        .getImageData(0, 0, S.base.width, S.base.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) n += d[i] !== d[i + 1] || d[i] !== d[i + 2];  // coloured, not grey
        return n; }""")
    assert drawn > 20_000  # the dots' colours


def test_zoomed_in_every_point_in_view_is_a_tile_decoded_as_torch_decodes_it(big, model) -> None:
    page, coords = big
    page.dblclick(".vx-over", position={"x": 5, "y": 5})
    zoom_in(page, index=7)
    t = tiles(page)
    assert t["on"] and t["missing"] == 0 and t["size"] >= 28
    # the points in view, from the page's own transform and margins, worked out here
    v = page.evaluate("() => window.__m.state.view")
    in_view = np.flatnonzero((coords[:, 0] >= v["x0"]) & (coords[:, 0] <= v["x1"])
                             & (coords[:, 1] >= v["y0"]) & (coords[:, 1] <= v["y1"]))
    assert 0 < len(in_view) <= 300
    assert [d[0] for d in t["drawn"]] == in_view.tolist()
    top = on_top(page)
    assert top, "every tile is overlapped"
    for i, x, y, s in top[:3]:
        with torch.no_grad():
            want = model.decode(torch.from_numpy(coords[i:i + 1])).mean[0, 0].numpy() * 255
        got = read_tile(page, x, y, s, 28, 28)
        assert np.abs(got - want).max() <= 1.5, (i, np.abs(got - want).max())


def test_zoomed_in_a_click_on_a_tile_picks_its_point_and_a_lasso_still_selects_exactly(big) -> None:
    page, _ = big
    if not tiles(page)["on"]:
        page.dblclick(".vx-over", position={"x": 5, "y": 5})
        zoom_in(page, index=7)
    box = page.locator(".vx-over").bounding_box()
    xy = np.asarray(page.evaluate("() => window.__m.state.screenCoords()"), np.float64)
    s = tiles(page)["size"]
    # a spot near a tile's right edge, over PICK_PX (10) from every point but within half a tile of one
    spots = [(x + s - 3, y + s / 2) for _, x, y, _ in on_top(page)]
    px, py = next(p for p in spots if 10 < np.hypot(xy[:, 0] - p[0], xy[:, 1] - p[1]).min() <= s / 2)
    page.evaluate("() => { window.__picks = []; }")
    page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function("() => window.__picks.length > 0", timeout=10_000)
    d = np.hypot(xy[:, 0] - px, xy[:, 1] - py)
    assert page.evaluate("() => window.__picks[0]") == {"index": int(np.argmin(d))}
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    ids, want = lasso(page, [(cx + 200 * np.cos(a), cy + 150 * np.sin(a) * (1 + 0.3 * np.cos(2 * a)))
                             for a in np.linspace(0, 2 * np.pi, 30, endpoint=False)])
    assert len(want) > 10 and ids == want
    assert tiles(page)["on"]  # the selection is drawn on the tiles too
    page.locator(".vx-btn", has_text="pan").first.click()


@pytest.fixture(scope="module")
def mnist(browser):
    """The app's case: the 10,000 bundled MNIST test images (their thumbnails in the blob) on a 50-D model's
    PCA map."""
    import explorer
    from explorer.latent.projection import make_projection
    from explorer.model.encoding import encode
    from explorer.web.payload import map_payload

    m = explorer.load_model(REPO / "trained" / "mnist_vae50.safetensors")
    data = explorer.load_dataset("mnist", test_only=True)
    mu = encode(m, data.test_x).mean.astype(np.float32)
    proj = make_projection("pca")
    coords = proj.fit_transform(mu).astype(np.float32)
    blob = map_payload(m, proj, coords, data.test_y.numpy(), mu,
                       thumbs=data.test_x.numpy())
    page = map_page(browser, blob)
    page.evaluate(MOUNT)
    yield page, m, data.test_x.numpy(), mu
    page.close()


def test_image_tiles_are_the_images_and_decoded_tiles_decode_each_points_own_mean(mnist) -> None:
    page, m, x, mu = mnist
    names = page.evaluate("() => Array.from(document.querySelectorAll('.vx-tiles option'), (o) => o.textContent)")
    assert names == ["zoomed in: dots", "zoomed in: images", "zoomed in: decoded"]
    zoom_in(page, index=0)
    t = tiles(page)
    assert t["source"] == TILE_SOURCES["image"]  # the default where the blob carries the images
    i, x0, y0, s = on_top(page)[0]
    want = thumb_levels(x[i]).reshape(28, 28) * 17.0  # 4-bit levels, 255 / 15 apart
    assert np.abs(read_tile(page, x0, y0, s, 28, 28) - want).max() <= 1
    page.select_option(".vx-tiles", str(TILE_SOURCES["decoded"]))
    page.wait_for_function("() => { const T = window.__m.state.tiles; return T.source === 2 && T.on && !T.missing.length; }")
    i, x0, y0, s = on_top(page)[0]
    with torch.no_grad():  # the page decodes the mean it was sent as float16
        z = torch.from_numpy(mu[i:i + 1].astype(np.float16).astype(np.float32))
        want = m.decode(z).mean[0, 0].numpy() * 255
    assert np.abs(read_tile(page, x0, y0, s, 28, 28) - want).max() <= 1.5


def test_deflated_pictures_join_the_map_and_are_kept_or_done_without(browser) -> None:
    """The app's blob carries its thumbnails deflated: the page inflates them after drawing the map, reuses them
    for another blob of the same points, and without DecompressionStream draws the map without them."""
    import explorer
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    m = explorer.load_model(REPO / "trained" / "mnist_vae2.safetensors")
    rng = np.random.default_rng(3)
    coords = rng.normal(size=(60, 2)).astype(np.float32)
    x = rng.random((60, 1, 28, 28)).astype(np.float32)
    blob = map_payload(m, make_projection("axes"), coords, rng.integers(0, 10, 60), coords, thumbs=x)
    page = map_page(browser, blob)
    try:
        page.evaluate(MOUNT)
        got = np.asarray(page.evaluate("() => Array.from(window.__m.state.thumbs)"), np.uint8)
        levels = np.stack([got & 15, got >> 4], 1).ravel()[:x.size]  # two pixels a byte, as pixels.js reads
        assert np.array_equal(levels, thumb_levels(x))
        kept = page.evaluate("""async () => { const S = window.__m.state, before = S.thumbs;
            const blob = new Uint8Array(await (await fetch('/blob')).arrayBuffer());
            window.__m.load(blob); return S.thumbs === before; }""")  # the same pictures, no second inflate
        assert kept
    finally:
        page.close()
    page = map_page(browser, blob)
    try:
        page.evaluate("() => { delete window.DecompressionStream; }")
        page.evaluate(MOUNT)
        state = page.evaluate("() => ({ready: document.getElementById('root').dataset.ready, "
                              "thumbs: window.__m.state.thumbs, info: window.__m.state.info.textContent})")
        assert state["ready"] == "1" and state["thumbs"] is None and "cannot unpack" in state["info"], state
    finally:
        page.close()


def test_images_given_without_labels_name_no_label(browser) -> None:
    """Uploaded images without labels: the hover names the image only, and the legend has no label to offer
    (the labels array is zeros, which once read "label 0" on every point)."""
    import explorer
    from explorer.latent.projection import make_projection
    from explorer.web.payload import map_payload

    m = explorer.load_model(REPO / "trained" / "mnist_vae2.safetensors")
    rng = np.random.default_rng(4)
    coords = rng.normal(size=(40, 2)).astype(np.float32)
    blob = map_payload(m, make_projection("axes"), coords, None, coords, thumbs=rng.random((40, 1, 28, 28)))
    page = map_page(browser, blob)
    try:
        page.evaluate(MOUNT)
        assert page.locator(".vx-chip").count() == 0
        i, x, y = page.evaluate("""() => { const S = window.__m.state, P = S.screenCoords(), r = S.over.getBoundingClientRect();
            for (let i = 0; i < P.length; i++) { const [x, y] = P[i];
              if (P.every(([a, b], j) => j === i || Math.hypot(a - x, b - y) > 8)) return [i, r.left + x, r.top + y]; }
            return [-1, 0, 0]; }""")
        assert i >= 0
        page.mouse.move(x, y)
        page.wait_for_function("() => window.__m.state.tip.style.display === 'block'", timeout=10_000)
        assert page.evaluate("() => window.__m.state.tipText.textContent") == f"image {i}"
    finally:
        page.close()
