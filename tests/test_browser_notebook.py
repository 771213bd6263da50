"""The notebook widget in JupyterLab: a headless `jupyter lab` started here (tests/jupyter_harness.py), a notebook
that shows explorer.widget for a native model (mnist_vae2) and an imported one (pytorch_examples_vae.vaex), driven
by Playwright in Chromium. The page's decodes of 100 random z and encodes of 20 test images agree with torch to
1e-4; a hover sweep decodes at least 30 distinct pictures and sends the kernel nothing; a click, a box and "Use it"
reach the kernel (read back there as w.chosen, w.selection, w.drawing); `w.chosen = 42` in the kernel moves the star.
Screenshot: artifacts/screenshots/notebook.png, with UPDATE_SCREENSHOTS=1 also docs/screenshots/."""
from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
import torch

from tests.browser_harness import REPO, launch, missing_browser
from tests.jupyter_harness import EXECUTE, KERNEL_IDLE, RUN_ALL, LabServer, missing_jupyterlab, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser() or missing_jupyterlab()
if why:
    pytest.skip(f"notebook browser test skipped: {why}", allow_module_level=True)

TIMEOUT_MS = 180_000  # the kernel imports torch and encodes 10,000 images twice on a small shared machine
TOL = 1e-4
MODELS = {0: REPO / "trained" / "mnist_vae2.safetensors", 1: REPO / "trained" / "pytorch_examples_vae.vaex"}
CELLS = [  # the first is README's screenshot: paths as a person in the repository would write them
    "import explorer\n\nw = explorer.widget(explorer.load_model('trained/mnist_vae2.safetensors'))\nw",
    "w.observe(lambda change: open('chosen.txt', 'w').write(repr(change['new'])), 'chosen')  # the kernel heard it",
    "w2 = explorer.widget(explorer.load_model('trained/pytorch_examples_vae.vaex'))  # an imported model\nw2",
]
SENT: list[str] = []  # the frames the page sent on the kernel's websocket
MAP_STATE = "document.querySelectorAll('.vxw')[{i}].querySelector('.vx-root').__map"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "trained").symlink_to(REPO / "trained")
    write_notebook(root / "explore.ipynb", CELLS)
    log = REPO / "artifacts" / "jupyter-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = LabServer(root, log_path=log).start()
    try:
        yield server
    finally:
        server.stop()  # always: a leftover server would hold a port and its kernel the CPU


@pytest.fixture(scope="module")
def nb(lab):
    """The notebook open and run, both widgets drawn."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("websocket", lambda ws: ws.on("framesent", lambda f: SENT.append(ws.url))
                if "/channels" in ws.url else None)
        page.goto(lab.notebook_url("explore.ipynb"))
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)
        page.evaluate(RUN_ALL)
        for i in (0, 1):
            page.locator(".vxw").nth(i).locator(".vx-root[data-ready='1']").wait_for()
            page.locator(".vxw").nth(i).locator(".vaex-draw[data-ready='1']").wait_for(state="attached")  # a hidden tab
        page.locator(".vxw").first.scroll_into_view_if_needed()
        yield page
        browser.close()


def run(page, code: str) -> str:
    """Run code in the notebook's kernel; what it printed."""
    return page.evaluate(EXECUTE, code)


def wait_printed(page, code: str, want: str, timeout: float = 30.0) -> None:
    """Run code in the kernel until it prints want (a message from the page may still be on its way)."""
    t0 = time.perf_counter()
    while (got := run(page, code).strip()) != want:
        assert time.perf_counter() - t0 < timeout, f"{code!r} printed {got!r}, not {want!r}"
        time.sleep(0.2)


def test_the_widget_decodes_and_encodes_as_torch_does(nb) -> None:
    from explorer import load_model
    from explorer.data.ref import DatasetRef

    for i, path in MODELS.items():
        model = load_model(path).eval()
        z = 2 * torch.randn(100, model.latent_dim, generator=torch.Generator().manual_seed(0))
        ref = DatasetRef.of(model)
        x = ref.scored(ref.load_test().test_x[:20])
        got = nb.evaluate(f"""([zs, xs]) => {{
            const S = {MAP_STATE.format(i=i)}, D = document.querySelectorAll('.vxw')[{i}].querySelector('.vaex-draw').__draw;
            return {{ dec: zs.map((z) => S.decodeAt(z)),
                      enc: xs.map((x) => {{ const q = D.encodeAt(x); return [Array.from(q.mu), Array.from(q.sigma)]; }}) }};
        }}""", [z.tolist(), x.flatten(1).tolist()])
        with torch.no_grad():
            want_x, q = model.decode(z).mean.flatten(1).numpy(), model.encode(x)
        errs = (np.abs(np.array(got["dec"]) - want_x).max(), np.abs(np.array([e[0] for e in got["enc"]]) - q.mean.numpy()).max(),
                np.abs(np.array([e[1] for e in got["enc"]]) - q.variance.sqrt().numpy()).max())
        print(f"{path.name}: max |page - torch| decode {errs[0]:.2e}, mu {errs[1]:.2e}, sigma {errs[2]:.2e}")
        assert max(errs) <= TOL, errs


def test_hover_decodes_in_the_page_and_sends_the_kernel_nothing(nb) -> None:
    box = nb.locator(".vxw").first.locator(".vx-over").bounding_box()
    before, seen = len(SENT), []
    for k in range(60):
        t = k / 59
        nb.mouse.move(box["x"] + 50 + t * (box["width"] - 70), box["y"] + 20 + t * (box["height"] - 60))
        nb.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seen.append(nb.locator(".vxw").first.locator(".vx-preview").evaluate("c => c.toDataURL('image/png')"))
    nb.wait_for_timeout(500)
    print(f"hover: {len(set(seen))} distinct decodes in 60 moves, {len(SENT) - before} kernel frames sent")
    assert len(set(seen)) >= 30, f"only {len(set(seen))} distinct decoded images in a 60-step sweep"
    assert len(SENT) == before, f"hovering sent the kernel {len(SENT) - before} messages"


def test_a_slider_decodes_in_the_page_and_its_release_reaches_the_kernel(nb) -> None:
    w = nb.locator(".vxw").first
    before, image = len(SENT), w.locator(".vd-image").evaluate("c => c.toDataURL('image/png')")
    thumb = w.locator(".vd-root input[type='range']").first
    thumb.evaluate("el => { el.value = el.min; el.dispatchEvent(new Event('input')); }")  # a drag in progress
    assert w.locator(".vd-image").evaluate("c => c.toDataURL('image/png')") != image, "the slider decoded nothing"
    nb.wait_for_timeout(300)
    assert len(SENT) == before, "moving a slider sent the kernel a message"
    lo = float(thumb.get_attribute("min"))
    thumb.evaluate("el => el.dispatchEvent(new Event('change'))")  # let go
    wait_printed(nb, "print(w.slider_values[0])", str(lo))


def isolated_dot(page) -> tuple[int, float, float]:
    """A dot with no other within 6 px, well inside the map: (index, x, y) in page px."""
    i, x, y = page.evaluate(f"""() => {{
        const S = {MAP_STATE.format(i=0)}, P = S.screenCoords(), r = S.over.getBoundingClientRect();
        for (let i = 0; i < P.length; i += 7) {{
            const [x, y] = P[i];
            if (x < 80 || y < 40 || x > S.w - 40 || y > S.h - 60) continue;
            if (P.every(([a, b], j) => j === i || Math.hypot(a - x, b - y) > 6)) return [i, r.left + x, r.top + y];
        }}
        return [-1, 0, 0]; }}""")
    assert i >= 0, "no isolated dot on the map"
    return i, x, y


def star_at(page) -> list[float] | None:
    return page.evaluate(f"() => {MAP_STATE.format(i=0)}.header.selected_xy || null")


def test_a_click_reaches_the_kernel_and_the_kernel_moves_the_star(nb, lab) -> None:
    i, x, y = isolated_dot(nb)
    (lab.root / "chosen.txt").unlink(missing_ok=True)
    t0 = time.perf_counter()
    nb.mouse.click(x, y)
    chosen = lab.root / "chosen.txt"
    while not (chosen.exists() and chosen.read_text()) and time.perf_counter() - t0 < 30:  # created, then written
        time.sleep(0.05)
    print(f"click -> kernel observer: {time.perf_counter() - t0:.2f} s (the map waits 250 ms for a double-click)")
    assert (lab.root / "chosen.txt").read_text() == repr(i)
    assert run(nb, "print(w.chosen)").strip() == str(i)
    coords = nb.evaluate(f"() => Array.from({MAP_STATE.format(i=0)}.coords.subarray(0, 2 * 10000))")
    nb.wait_for_function(f"([x, y]) => {{ const s = {MAP_STATE.format(i=0)}.header.selected_xy;"
                         " return !!s && Math.abs(s[0] - x) < 1e-5 && Math.abs(s[1] - y) < 1e-5; }",
                         arg=[coords[2 * i], coords[2 * i + 1]])
    assert run(nb, "w.chosen = 42; print(w.chosen, tuple(w.z.shape))").strip() == "42 (2,)"
    nb.wait_for_function(f"([x, y]) => {{ const s = {MAP_STATE.format(i=0)}.header.selected_xy;"
                         " return !!s && Math.abs(s[0] - x) < 1e-5 && Math.abs(s[1] - y) < 1e-5; }",
                         arg=[coords[84], coords[85]])


def test_a_box_and_a_drawing_reach_the_kernel(nb) -> None:
    w = nb.locator(".vxw").first
    w.locator(".vx-tool[data-tool='box']").click()
    box = w.locator(".vx-over").bounding_box()
    nb.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.35)
    nb.mouse.down()
    nb.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.55, steps=8)
    nb.mouse.up()
    ids = nb.evaluate(f"() => Array.from({MAP_STATE.format(i=0)}.sel).sort((a, b) => a - b)")
    assert ids, "the box selected nothing"
    wait_printed(nb, "print(len(w.selection))", str(len(ids)))
    assert run(nb, "print(w.selection[:5])").strip() == str(ids[:5])
    w.locator(".vx-tool[data-tool='pan']").click()
    w.locator(".vxw-tab", has_text="Draw your own").click()
    pad = w.locator(".vxd-canvas").bounding_box()
    nb.mouse.move(pad["x"] + pad["width"] * 0.5, pad["y"] + pad["height"] * 0.2)
    nb.mouse.down()
    nb.mouse.move(pad["x"] + pad["width"] * 0.5, pad["y"] + pad["height"] * 0.8, steps=12)
    nb.mouse.up()
    w.locator(".vxd-use").click()
    wait_printed(nb, "print(w.drawing is not None and tuple(w.drawing.shape))", "(1, 28, 28)")
    shot(nb)


def shot(page) -> None:
    """The first widget with its drawing on the map, for README's "In a notebook"."""
    out = REPO / "artifacts" / "screenshots" / "notebook.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 1500})  # the whole first cell, its code included
    cell = page.locator(".jp-Cell").first
    cell.scroll_into_view_if_needed()
    box = cell.locator(".vx-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.4)  # a decoded preview showing
    page.wait_for_timeout(300)
    cell.screenshot(path=str(out))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(out, REPO / "docs" / "screenshots" / out.name)
