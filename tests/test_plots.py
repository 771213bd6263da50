"""Figure builders: the right traces with the right data; PNGs drawn where they should be."""
import dataclasses
import io

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer.figures import plots


def test_latent_scatter_one_webgl_trace_per_label_carrying_indices():
    rng = np.random.default_rng(0)
    coords = rng.standard_normal((200, 2))
    labels = rng.integers(0, 10, 200)
    fig = plots.latent_scatter(coords, labels, [f"c{i}" for i in range(10)], axis_titles=("a", "b"))
    assert len(fig.data) == len(np.unique(labels))
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    seen = np.concatenate([np.asarray(t.customdata) for t in fig.data])
    assert sorted(seen.tolist()) == list(range(200))
    for t in fig.data:  # each point sits where its index says
        idx = np.asarray(t.customdata)
        np.testing.assert_allclose(t.x, coords[idx, 0], atol=1e-4)
        assert set(labels[idx]) == {int(t.name[1:])}
    assert fig.layout.xaxis.title.text == "a" and fig.layout.yaxis.title.text == "b"


def test_latent_scatter_without_labels_and_with_a_subset_index():
    fig = plots.latent_scatter(np.zeros((5, 2)), None, index=np.arange(10, 15))
    assert len(fig.data) == 1 and list(fig.data[0].customdata) == [10, 11, 12, 13, 14]


@pytest.mark.parametrize("nsig", [1.0, 2.0])
def test_ellipse_points_lie_on_the_mahalanobis_contour(nsig):
    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    c = np.array([1.0, -2.0])
    e = plots.ellipse_xy(c, cov, nsig)
    m = np.einsum("ni,ij,nj->n", e - c, np.linalg.inv(cov), e - c)
    np.testing.assert_allclose(m, nsig ** 2, rtol=1e-9)


def test_axis_aligned_ellipse_has_the_stds_as_half_axes():
    e = plots.ellipse_xy(np.zeros(2), np.diag([9.0, 0.25]), 1.0, n=1000)
    np.testing.assert_allclose(np.abs(e).max(0), [3.0, 0.5], rtol=1e-4)


def test_selection_adds_ellipses_only_for_a_posterior():
    fig = go.Figure()
    plots.add_selection(fig, np.array([0.0, 0.0]), np.eye(2))
    assert len(fig.data) == 3  # 1-sigma, 2-sigma, the star
    fig = go.Figure()
    plots.add_selection(fig, np.array([0.0, 0.0]), np.zeros((2, 2)))  # an AE's point code
    assert len(fig.data) == 1


def test_paths_endpoints_lines_and_bars():
    fig = go.Figure()
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    plots.add_path(fig, xy, "lerp", "#000000")
    plots.add_endpoints(fig, xy[0], xy[-1])
    assert list(fig.data[0].x) == [0.0, 1.0, 2.0] and list(fig.data[1].text) == ["A", "B"]
    lf = plots.line_figure(np.arange(3), {"a": np.ones(3), "b": np.zeros(3)}, x_title="t", y_title="y",
                           colors=["#111111", "#222222"])
    assert [t.name for t in lf.data] == ["a", "b"] and lf.data[1].line.color == "#222222"
    bf = plots.bar_figure(["z1", "z2"], np.array([0.5, 2.0]), y_title="nats")
    assert list(bf.data[0].y) == [0.5, 2.0]


def _png(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    return img.convert("RGB")


def test_scatter_png_draws_each_point_in_its_label_colour_where_it_belongs():
    coords = np.array([[0.0, 0.0], [1.0, 1.0]])  # bottom-left and top-right corners of the plot area
    img = _png(plots.scatter_png(coords, np.array([0, 1]), ["zero", "one"], size=200, point=3))
    pad, top = 20, 10
    bottom_left = img.getpixel((pad, top + 200 - pad))
    top_right = img.getpixel((200 - pad, top + pad))
    assert bottom_left == Image.new("RGB", (1, 1), plots.label_color(0)).getpixel((0, 0))
    assert top_right == Image.new("RGB", (1, 1), plots.label_color(1)).getpixel((0, 0))
    assert img.size == (200 + 110, 200 + top)


def test_scatter_png_of_nothing_is_still_an_image():
    assert _png(plots.scatter_png(np.zeros((0, 2)), None, title="empty")).size[0] > 0


def test_labelled_rows_png_places_every_tile():
    rows = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    rows[1, 2] = 255  # one white tile: last row, last column
    img = _png(plots.labelled_rows_png(rows, ["z1", "z2"], ["-1", "0", "+1"], scale=2, pad=2))
    w, h = img.size
    assert img.getpixel((w - 2 - 4, h - 2 - 4)) == (255, 255, 255)  # inside the white tile
    assert img.getpixel((w - 2 - 8 - 2 - 4, h - 2 - 4)) == (0, 0, 0)  # its black neighbour


def test_training_curves_beta_axis_has_round_ticks_in_the_browser(tmp_path):
    """β's axis overlays the KL axis; Plotly.js then defaults to tickmode "sync", which put β's ticks on the
    KL grid lines (0.063, 0.434, 0.805 for a β that is 1 throughout). Drawn by Chromium, as users see it."""
    from tests.browser_harness import launch, missing_browser

    if missing_browser():
        pytest.skip(missing_browser())
    from playwright.sync_api import sync_playwright

    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    e = [i / 10 for i in range(1, 21)]
    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[], latent_map=None, epoch=2.0,
                       total_epochs=2, samples_per_sec=None, notes=[], description="",
                       steps={"epoch": e, "step": list(range(20)), "recon": [-30.0] * 20,
                              "kl": [0.1 + 0.12 * i for i in range(20)], "bound": [-31.0] * 20, "beta": [1.0] * 20},
                       epochs=[{"epoch": 1, "test_elbo": -31, "test_recon": -30, "test_kl": 1.0}])
    page_file = tmp_path / "curves.html"
    page_file.write_text(training_curves.curves_figure(snap).to_html(include_plotlyjs=True, div_id="fig"))
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.wait_for_function("() => document.getElementById('fig')._fullLayout")
            ticks = page.evaluate("() => document.getElementById('fig')._fullLayout.yaxis3._vals.map(t => t.x)")
        finally:
            browser.close()
    assert ticks and all(abs(t * 10 - round(t * 10)) < 1e-9 for t in ticks), ticks  # 0, 0.2, ... not 0.063
    assert any(abs(t - 1.0) < 1e-9 for t in ticks)


def test_iwae_run_says_its_train_curve_is_the_iwae_bound():
    """With iwae_k > 1 the train line is the IWAE bound (it can sit above the reconstruction term, which the
    ELBO never does); the title and legend must not call it the ELBO."""
    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[], latent_map=None, epoch=1.0,
                       total_epochs=1, samples_per_sec=None, notes=[], description="",
                       steps={"epoch": [0.5, 1.0], "step": [0, 1], "recon": [-30.0] * 2, "kl": [1.0] * 2,
                              "bound": [-29.0] * 2, "beta": [1.0] * 2},
                       epochs=[{"epoch": 1, "test_elbo": -31, "test_recon": -30, "test_kl": 1.0}])
    plain = training_curves.curves_figure(snap).to_dict()
    iwae = training_curves.curves_figure(snap, iwae_k=5).to_dict()
    assert plain["layout"]["annotations"][0]["text"] == "ELBO = E[log p(x|z)] − KL (nats per image)"
    assert iwae["layout"]["annotations"][0]["text"] == "train: IWAE bound (k = 5); test: ELBO (nats per image)"
    assert iwae["data"][0]["name"] == "IWAE bound (k = 5) · train" and iwae["data"][1]["name"] == "ELBO · test"
    assert training_curves.curves_figure(snap).to_dict()["layout"]["annotations"][0]["text"].startswith("ELBO")


def test_autoencoder_run_shows_its_reconstruction_term_alone():
    """An AE has no KL, no β and no ELBO: one panel, one term, and no empty KL/β panel."""
    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[0.0, 0.0], latent_map=None, epoch=1.0,
                       total_epochs=1, samples_per_sec=None, notes=[], description="",
                       steps={"epoch": [0.5, 1.0], "step": [0, 1], "recon": [-30.0, -28.0], "kl": [0.0] * 2,
                              "bound": [-30.0, -28.0], "beta": [1.0] * 2},
                       epochs=[{"epoch": 1, "test_elbo": -27, "test_recon": -27, "test_kl": 0.0}])
    fig = training_curves.curves_figure(snap, autoencoder=True).to_dict()
    assert [d["name"] for d in fig["data"]] == ["reconstruction · train", "reconstruction · test"]
    assert fig["data"][0]["y"] == [-30.0, -28.0] and fig["data"][1]["y"] == [-27]
    assert "xaxis2" not in fig["layout"] and "yaxis3" not in fig["layout"]
    title = fig["layout"]["title"]["text"]
    assert title.startswith("Reconstruction term") and "has no KL and no ELBO" in title


def test_kl_per_dimension_bars_grey_out_the_dimensions_that_are_not_alive():
    """A bar is coloured when its mean KL exceeds ALIVE_KL = 0.01 nats (evaluation.latent_use), grey otherwise."""
    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[0.5, 0.01, 0.0, 0.02], latent_map=None,
                       epoch=1.0, total_epochs=1, samples_per_sec=None, notes=[], description="",
                       steps={"epoch": [], "step": [], "recon": [], "kl": [], "bound": [], "beta": []},
                       epochs=[{"epoch": 1}])
    fig = training_curves.kl_dims_figure(snap).to_dict()
    assert [c != "#BBBBBB" for c in fig["data"][0]["marker"]["color"]] == [True, False, False, True]
    assert snap.alive_dims == 2 and "(test set): 2 of 4 alive" in fig["layout"]["title"]["text"]


def test_training_curves_name_the_unit_of_their_numbers():
    """A dequantized Gaussian's curves and a binarized Bernoulli's are both nats per image but not comparable:
    the left axis says which (explorer.data.units), for a VAE and an autoencoder alike."""
    import dataclasses

    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[], latent_map=None, epoch=1.0,
                       total_epochs=1, samples_per_sec=None, notes=[], description="", unit="8-bit",
                       steps={"epoch": [0.5, 1.0], "step": [0, 1], "recon": [-300.0] * 2, "kl": [1.0] * 2,
                              "bound": [-301.0] * 2, "beta": [1.0] * 2},
                       epochs=[{"epoch": 1, "test_elbo": -302, "test_recon": -300, "test_kl": 2.0}])
    for ae in (False, True):
        assert training_curves.curves_figure(snap, autoencoder=ae).layout.yaxis.title.text == "nats per image, 8-bit"
    before = dataclasses.replace(snap, unit="")  # a job still loading its data: no unit yet
    assert training_curves.curves_figure(before).layout.yaxis.title.text == "nats per image"


def test_training_curves_zoom_past_the_first_epoch_so_the_kl_gap_between_elbo_and_reconstruction_shows():
    """The first steps fall from -550 to -150 nats; on an axis that holds them the ELBO and its reconstruction
    term, 8 nats apart, drew as one line. The left axis starts after the first epoch; the train (per step) and
    test (per epoch) lines, β and the KL keep their panels and names."""
    from explorer.figures import training_curves
    from explorer.jobs import JobSnapshot

    e = [i / 10 for i in range(1, 101)]  # 10 epochs, 10 binned steps each
    recon = [-550 + 400 * t if t < 1 else -142 - 8 / t for t in e]
    snap = JobSnapshot(status="finished", message="", run=1, kl_per_dim=[], latent_map=None, epoch=10.0,
                       total_epochs=10, samples_per_sec=None, notes=[], description="", unit="binarized",
                       steps={"epoch": e, "step": list(range(100)), "recon": recon, "kl": [8.0] * 100,
                              "bound": [r - 8 for r in recon], "beta": [1.0] * 100},
                       epochs=[{"epoch": n, "test_elbo": -150 - 8 / n, "test_recon": -142 - 8 / n, "test_kl": 8.0}
                               for n in range(1, 11)])
    fig = training_curves.curves_figure(snap).to_dict()
    lo, hi = fig["layout"]["yaxis"]["range"]
    assert lo < -158 - 1e-9 and hi > -142.8  # every value after the first epoch, and every test value
    assert lo > -200  # not the first steps' -550
    assert 8 / (hi - lo) > 0.3  # the KL between the two lines is a third of the axis, not 2% of it
    names = [d["name"] for d in fig["data"]]
    assert names == ["ELBO · train", "ELBO · test", "reconstruction · train", "reconstruction · test",
                     "KL · train", "KL · test", "β (right axis)"]
    assert [d["yaxis"] for d in fig["data"]] == ["y", "y", "y", "y", "y2", "y2", "y3"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "nats per image, binarized"
    start = dataclasses.replace(snap, steps={k: v[:1] for k, v in snap.steps.items()}, epochs=[])
    assert training_curves.bound_range(start) == [-518.5, -509.5]  # one step: its ELBO and reconstruction, padded
    empty = dataclasses.replace(snap, steps={k: [] for k in snap.steps}, epochs=[])
    assert "range" not in training_curves.curves_figure(empty).to_dict()["layout"]["yaxis"]  # nothing yet: autorange
