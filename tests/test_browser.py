"""The real app in headless Chromium: what AppTest cannot see (Plotly clicks, images changing on screen,
live curves growing, two sessions sharing one server's training limit).

Screenshots go to artifacts/screenshots/; with UPDATE_SCREENSHOTS=1 also to docs/screenshots/.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.browser_harness import (REPO, VIEWPORT, AppServer, image_src, launch, missing_browser, plot_last_x,
                                   wait_idle)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
why = missing_browser()
if why:
    pytest.skip(f"browser test skipped: {why}", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

ARTIFACTS = REPO / "artifacts" / "screenshots"
DOCS = REPO / "docs" / "screenshots"
TIMEOUT_MS = 180_000  # generous: CI machines are small, and the first page load imports torch and sklearn
expect.set_options(timeout=TIMEOUT_MS)


def shot(page, name: str, docs: bool = True) -> Path:
    """A screenshot of the whole page. Streamlit scrolls inside its main block, not the document, so
    full_page alone stops at the window: the window is made as tall as the content first."""
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(height, 5000))})
    page.wait_for_timeout(800)  # Plotly redraws for the new size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)
    return path


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory) -> Path:
    """A small digits VAE with a 2-D latent for the map and decoder pages to open. For README
    screenshots (UPDATE_SCREENSHOTS=1) the repository's trained/ checkpoints are offered too."""
    from explorer.cli import main

    d = tmp_path_factory.mktemp("trained")
    assert main(["train", "--dataset", "digits", "--hidden", "64", "--epochs", "5", "--batch-size", "32",
                 "--threads", "1", "--quiet", "--out", str(d / "digits_vae2.safetensors")]) == 0
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for p in (REPO / "trained").glob("*.safetensors"):
            if not (d / p.name).exists():  # the test's own digits model keeps its name
                (d / p.name).symlink_to(p)
    return d


@pytest.fixture(scope="module")
def saves_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("saved")


@pytest.fixture(scope="module")
def app(trained_dir: Path, saves_dir: Path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = AppServer(env={"EXPLORER_TRAINED_DIR": str(trained_dir), "EXPLORER_MAX_TRAININGS": "1",
                            "EXPLORER_TRAIN_THREADS": "1", "EXPLORER_SAVES_DIR": str(saves_dir)},
                       log_path=ARTIFACTS.parent / "streamlit-test.log", count_runs=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()  # always: a leftover server would hold the port and a CPU


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh context per test: its own cookies, so its own Streamlit session."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    context.close()


def open_page(page, app: AppServer, path: str, ready: str) -> None:
    page.goto(f"{app.url}/{path}")
    try:
        page.locator(ready).first.wait_for()
        wait_idle(page)
    except Exception:
        shot(page, f"failed-{path or 'home'}")  # what the page showed instead, for the CI artifacts
        raise


def canvas_png(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("c => c.toDataURL('image/png')")


def test_decoder_sliders_decode_in_the_page_without_a_rerun(app: AppServer, page) -> None:
    open_page(page, app, "decoder", ".vd-root[data-ready='1']")
    before, runs = canvas_png(page, ".vd-image"), app.runs()
    thumb = page.locator(".vd-root input[type='range']").first
    # an input event alone (a drag in progress): the page decodes, the server is not asked
    thumb.evaluate("el => { el.value = el.value > 0 ? el.min : el.max; el.dispatchEvent(new Event('input')); }")
    after = canvas_png(page, ".vd-image")
    assert after != before, "the slider's image did not change in the page"
    page.wait_for_timeout(1500)
    assert app.runs() == runs, "moving a slider reran the script"
    # the end of the gesture tells Python, which redraws the traversal grid (a fragment rerun)
    first_img = "() => { const i = document.querySelector('[data-testid=\"stImage\"] img'); return i && i.src; }"
    grid = page.evaluate(first_img)  # the traversal grid: the only server image on this page
    assert grid
    thumb.evaluate("el => el.dispatchEvent(new Event('change'))")
    page.wait_for_function("(old) => { const i = document.querySelector('[data-testid=\"stImage\"] img');"
                           " return i && i.src !== old; }", arg=grid, timeout=TIMEOUT_MS)
    assert app.runs() > runs
    wait_idle(page)
    shot(page, "decoder")


def hover_sweep(page, steps: int = 60) -> list[str]:
    """Sweep the pointer across the map; the preview image after each move (one animation frame later)."""
    box = page.locator(".vx-over").first.bounding_box()
    seen = []
    for i in range(steps):
        t = i / (steps - 1)
        page.mouse.move(box["x"] + 50 + t * (box["width"] - 70), box["y"] + 20 + t * (box["height"] - 60))
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        seen.append(canvas_png(page, ".vx-preview"))
    return seen


def test_hovering_the_map_decodes_every_frame_without_a_rerun(app: AppServer, page) -> None:
    open_page(page, app, "", ".vx-root[data-ready='1']")
    runs = app.runs()
    seen = hover_sweep(page)
    assert len(set(seen)) >= 30, f"only {len(set(seen))} distinct decoded images in a 60-step sweep"
    assert int(page.locator(".vx-root").first.get_attribute("data-decodes")) >= 30
    page.wait_for_timeout(1000)
    assert app.runs() == runs, "hovering reran the script"
    expect(page.locator(".vx-info").first).to_contain_text("log p(z) =")


def test_clicking_the_map_picks_the_nearest_dot(app: AppServer, page) -> None:
    open_page(page, app, "", ".vx-root[data-ready='1']")
    index_box = page.locator(".st-key-map_index input")
    start = int(index_box.input_value())
    box = page.locator(".vx-over").first.bounding_box()
    pts = page.locator(".vx-root").first.evaluate("r => r.__map.screenCoords()")
    # a dot inside the plot with a later one (drawn on top of it) within 3 px: a click on the earlier dot's
    # centre must pick it, the nearest, not the dot drawn over it
    inside = [i for i, (x, y) in enumerate(pts) if i != start and 80 < x < box["width"] - 80
              and 60 < y < box["height"] - 60]
    target = next(i for i in inside[:3000] if any(
        j > i and 0 < (pts[j][0] - pts[i][0]) ** 2 + (pts[j][1] - pts[i][1]) ** 2 < 9 for j in inside))
    px, py = pts[target]
    nearest = min(range(len(pts)), key=lambda i: (pts[i][0] - px) ** 2 + (pts[i][1] - py) ** 2)
    runs = app.runs()
    page.mouse.click(box["x"] + px, box["y"] + py)
    expect(index_box).to_have_value(str(nearest), timeout=TIMEOUT_MS)
    caption = page.get_by_test_id("stImageCaption").filter(has_text=f"test image {nearest} ")
    expect(caption).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("reconstruction E[x | z = μ]")).to_be_in_viewport()  # beside the map, no scrolling
    wait_idle(page)
    # only the map-and-choice fragment ran: the manifold grid's slider above the fold was not redrawn
    assert app.runs() - runs <= 2
    page.mouse.move(box["x"] + pts[target][0] + 30, box["y"] + pts[target][1] - 20)  # a hover, for the picture
    page.wait_for_timeout(300)
    shot(page, "map")
    # a double-click resets the view and picks nothing
    other = next(i for i in inside if i not in (target, nearest))
    page.mouse.dblclick(box["x"] + pts[other][0], box["y"] + pts[other][1])
    page.wait_for_timeout(1500)
    expect(index_box).to_have_value(str(nearest))
    # a click far from every dot keeps that z
    far = max(((x, y) for x in range(60, int(box["width"]) - 200, 12) for y in range(20, int(box["height"]) - 40, 12)),
              key=lambda q: min((q[0] - a) ** 2 + (q[1] - b) ** 2 for a, b in pts))
    page.mouse.click(box["x"] + far[0], box["y"] + far[1])
    expect(page.get_by_text("mean of p(x | z) at the clicked point")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    shot(page, "map-z", docs=False)


def test_drawing_moves_its_point_on_the_map_and_use_it_hands_it_over(app: AppServer, page) -> None:
    open_page(page, app, "", ".vx-root[data-ready='1']")
    page.get_by_role("tab", name="Draw your own").click()
    canvas = page.locator(".vaex-draw canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    drawn = page.locator(".vx-root").first

    def stroke(points) -> dict:
        page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
        page.mouse.up()
        page.wait_for_timeout(300)
        return drawn.evaluate("r => r.__map.drawn")

    runs = app.runs()
    one = stroke([(140, 40 + 8 * i) for i in range(26)])  # a 1
    assert one is not None and all(abs(v) < 1e3 for v in one["xy"]), one
    zero = stroke([(140 + 70 * math.sin(t / 4), 140 - 90 * math.cos(t / 4))
                   for t in range(26)])  # a ring over it: the point moves
    assert zero["xy"] != one["xy"]
    assert app.runs() == runs, "drawing reran the script"
    page.get_by_role("button", name="Use it").click()
    page.get_by_role("tab", name="Chosen point").click()
    expect(page.get_by_test_id("stImageCaption").filter(has_text="your drawing")).to_be_visible()
    wait_idle(page)
    shot(page, "map-drawing", docs=False)


def fill(page, key: str, value: str) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(value)
    box.press("Tab")


def pick(page, key: str, option: str) -> None:
    """Choose an option of a selectbox."""
    page.locator(f".st-key-{key} [role='combobox']").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def train_digits(page, app: AppServer, epochs: str = "200", batch_size: str = "5") -> None:
    """The Train page with digits (MNIST is the form's default, and slower), ready to start."""
    open_page(page, app, "train", "button:has-text('Start training')")
    pick(page, "train_dataset", "digits")
    fill(page, "train_epochs", epochs)
    fill(page, "train_batch_size", batch_size)  # small steps: many curve points an epoch


def stop_button(page):
    return page.locator(".st-key-train_stop button").first  # (a button with help text nests two)


def progress_text(page) -> str:
    texts = page.get_by_test_id("stProgress").all_inner_texts()
    return texts[0] if texts else ""


def test_training_draws_growing_curves_stops_resumes_and_saves(app: AppServer, page, trained_dir: Path,
                                                              saves_dir: Path) -> None:
    """The run is long (200 epochs) and the test stops it once it has seen the curve grow, so a fast
    machine cannot finish it between two looks; a resume to one more epoch then shows the finished state."""
    train_digits(page, app)  # 288 small steps an epoch, one curve point each
    page.get_by_role("button", name="Start training").click()
    seen: list[float] = []  # the epoch the live ELBO curve reaches, at each look while it trains
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline and len(set(seen)) < 3:
        last = plot_last_x(page, "train_chart_curves")
        if last is not None and progress_text(page).startswith("Training"):
            seen.append(last)
        time.sleep(0.2)
    assert seen == sorted(seen), seen  # never goes back
    assert len(set(seen)) >= 3, f"the curve was not seen growing while training: {seen}"
    # the live map runs the model in the page with the current weights: its decode of one fixed z changes
    # as training goes on (the payload is refreshed every 2 s), and hovering decodes
    live = page.locator(".vx-root[data-ready='1']").first
    live.wait_for()
    decoded = set()
    deadline = time.monotonic() + 120
    while len(decoded) < 3 and time.monotonic() < deadline and progress_text(page).startswith("Training"):
        decoded.add(tuple(round(v, 6) for v in live.evaluate("r => r.__map.decodeAt([0.5, -0.5])")))
        page.wait_for_timeout(500)
    page.locator(".vx-over").first.scroll_into_view_if_needed()  # the map's middle may be below the fold
    box = page.locator(".vx-over").first.bounding_box()
    hover_before = int(live.get_attribute("data-decodes") or 0)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    assert int(live.get_attribute("data-decodes") or 0) > hover_before, "hovering the live map decoded nothing"
    assert len(decoded) >= 3, "the live map's decoder did not follow the training"
    stop_button(page).click()
    expect(page.get_by_text("Stopped · epoch")).to_be_visible()
    stopped_at = float(re.search(r"epoch ([\d.]+) of 200", progress_text(page)).group(1))
    assert stopped_at < 200, "stopped by the button, not by running out of epochs"
    at_stop = plot_last_x(page, "train_chart_curves")
    assert seen[-1] <= at_stop <= stopped_at + 1e-6
    # resume to one more whole epoch: same weights and optimiser, the curve goes on from where it was
    total = int(stopped_at) + 1
    fill(page, "train_resume_epochs", str(total))
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text(f"Finished · epoch {total}.00 of {total}")).to_be_visible()
    end, deadline = None, time.monotonic() + 60  # the finished page redraws its chart a moment later (longer
    while (end is None or end <= at_stop) and time.monotonic() < deadline:  # under load): wait for that draw
        end = plot_last_x(page, "train_chart_curves")  # the curve reaches the end (its last bin's mean epoch)
        time.sleep(0.2)
    assert at_stop < end and end == pytest.approx(total, abs=0.1)
    expect(page.get_by_text(f"Latent map after epoch {total}")).to_be_visible()
    # the result: offered in the sidebar, saved under a unique name in the saves folder (never in trained/)
    expect(page.get_by_test_id("stSidebar").get_by_text("Trained here")).to_be_visible()
    bundled = sorted(p.name for p in trained_dir.iterdir())
    page.get_by_role("button", name="Save on this server").click()
    expect(page.get_by_text("Saved digits-vae-z2-")).to_be_visible()
    saved = [p.name for p in saves_dir.glob("digits-vae-z2-*.safetensors")]
    assert len(saved) == 1 and re.fullmatch(r"digits-vae-z2-\d{8}-\d{6}\.safetensors", saved[0]), saved
    assert sorted(p.name for p in trained_dir.iterdir()) == bundled
    # saving again under the same name asks first (it is this browser's own file)
    page.get_by_role("button", name="Save on this server").click()
    expect(page.get_by_text("You already saved a model as")).to_be_visible()
    page.get_by_role("button", name="Keep it").click()
    expect(page.get_by_text("You already saved a model as")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar").get_by_text("Saved on this server")).to_be_visible()
    wait_idle(page)
    shot(page, "train")


def test_second_session_waits_for_the_training_slot(app: AppServer, browser) -> None:
    """The server allows one training here (EXPLORER_MAX_TRAININGS=1): a second user is told why
    they wait, and starts as soon as the first stops."""
    pages = []
    for _ in range(2):
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(TIMEOUT_MS)
        pages.append(ctx.new_page())
    first, second = pages
    try:
        for pg in pages:
            train_digits(pg, app, batch_size="3")
        first.get_by_role("button", name="Start training").click()
        expect(first.get_by_text("Training · epoch")).to_be_visible()
        second.get_by_role("button", name="Start training").click()
        expect(second.get_by_text("1 training is running on this server; yours starts when one finishes "
                                  "(you are number 1 in the queue).")).to_be_visible()
        expect(stop_button(second)).to_be_visible()
        shot(second, "train-queued", docs=False)
        stop_button(first).click()
        expect(first.get_by_text("Stopped · epoch")).to_be_visible()
        expect(second.get_by_text("Training · epoch")).to_be_visible()
        stop_button(second).click()
        expect(second.get_by_text("Stopped · epoch")).to_be_visible()
    finally:
        for pg in pages:
            pg.context.close()


def nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def test_a_reload_finds_the_running_training_again(app: AppServer, page) -> None:
    """The same browser (its cookie) reloads mid-training: the page shows the run, live, with its Stop."""
    train_digits(page, app, batch_size="3")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training · epoch")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Your training from before the page was reloaded is here again.")).to_be_visible()
    expect(page.get_by_text("Training · epoch")).to_be_visible()
    first = float(re.search(r"epoch ([\d.]+) of 200", progress_text(page)).group(1))
    page.wait_for_function(  # still live: the progress moves on after the reload
        f"() => {{ const m = (document.querySelector('[data-testid=stProgress]') || {{}}).innerText?.match(/epoch ([\\d.]+) of/);"
        f" return m && parseFloat(m[1]) > {first}; }}")
    stop_button(page).click()
    expect(page.get_by_text("Stopped · epoch")).to_be_visible()


def test_train_settings_survive_other_pages_before_and_during_a_training(app: AppServer, page) -> None:
    """Edits not yet started, and the settings of a running training, are still in the form after a visit
    to another page (the form used to lose both)."""
    train_digits(page, app, epochs="200", batch_size="3")
    fill(page, "train_hidden", "48")
    fill(page, "train_latent", "3")
    page.wait_for_timeout(300)  # a person's pause: the edits' reruns start before the click on another page
    wait_idle(page)
    nav(page, "Decoder sliders")
    nav(page, "Train")
    page.locator(".st-key-train_hidden input").wait_for()
    # a person reads the form before reloading: the server has run the page with the edits by then (a reload
    # within a second of four edits on a loaded server closed the session before it ran them: nothing to keep)
    page.wait_for_timeout(1000)
    wait_idle(page)

    def form() -> tuple:
        return (page.locator(".st-key-train_dataset input").input_value(),
                page.locator(".st-key-train_epochs input").input_value(),
                page.locator(".st-key-train_hidden input").input_value(),
                page.locator(".st-key-train_latent input").input_value())

    assert form() == ("digits", "200", "48", "3")
    page.reload()  # a new session of the same browser (or a reconnect): the form comes back too
    page.locator(".st-key-train_hidden input").wait_for()
    wait_idle(page)
    assert form() == ("digits", "200", "48", "3")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training · epoch")).to_be_visible()
    for title in ("Latent map", "Interpolate", "Train", "Decoder sliders", "Train"):
        nav(page, title)
    expect(page.get_by_text("Training · epoch")).to_be_visible()
    # the form is read once the page's run has ended: in one loaded full run it was read mid-run, at the default
    expect(page.locator(".st-key-train_epochs input")).to_have_value("200", timeout=20_000)
    wait_idle(page)
    assert form() == ("digits", "200", "48", "3")
    stop_button(page).click()
    expect(page.get_by_text("Stopped · epoch")).to_be_visible()


def test_readable_urls_an_unknown_one_and_presenter_mode(app: AppServer, browser) -> None:
    """Each page at its own URL; a URL naming no page says so; ?present=1 is for a projector (pictures
    twice the size, the sidebar collapsed, no toolbar)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    try:
        for path, title in (("map", "Latent map"), ("interpolate", "Interpolate"), ("maths", "The maths, live"),
                            ("train", "Train a model"), ("decoder", "Decoder sliders")):
            open_page(page, app, path, "h1")
            expect(page.locator("h1").first).to_have_text(title)
        normal = page.locator(".vd-root[data-ready='1'] .vd-image").first.bounding_box()["width"]
        page.goto(f"{app.url}/no-such-page")
        expect(page.get_by_role("dialog").get_by_text("Page not found")).to_be_visible()  # Streamlit's own
        expect(page.locator("h1").first).to_have_text("Latent map")
    finally:
        ctx.close()
    ctx = browser.new_context(viewport=VIEWPORT)  # a new session, opened on the projector's link
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    try:
        open_page(page, app, "decoder?present=1", ".vd-root[data-ready='1']")
        # the presenter stylesheet (st.html at the page's top) can land after the sliders have drawn (seen after
        # a training on the same server): wait for the image to grow, then check it doubled
        image, deadline = page.locator(".vd-root[data-ready='1'] .vd-image").first, time.monotonic() + 20
        big = image.bounding_box()["width"]
        while big < 1.5 * normal and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            big = image.bounding_box()["width"]
        assert big == pytest.approx(2 * normal, abs=2), (normal, big)
        expect(page.get_by_test_id("stToolbar")).to_be_hidden()
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        shot(page, "presenter")
    finally:
        ctx.close()
