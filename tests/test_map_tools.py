"""The Latent map's projector tools under AppTest: what they draw on the map (the payload's header numbers)
equals the core's answer, and each panel shows what it says."""
import zlib

import numpy as np
import pytest

from explorer.data.ref import DatasetRef, load_test_set
from explorer.latent.attributes import attribute_vector, label_ids
from explorer.latent.neighbours import neighbours
from explorer.model.encoding import encode
from explorer.web.received import clean_selection
from tests import test_app as base
from tests.test_app import array, map_payload, ok

trained, app = base.trained, base.app  # the AppTest fixtures of test_app.py
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def codes(at):
    """The test set's posteriors as the map draws them: of the images the likelihood scores."""
    model = at.session_state["_explorer_current"].model
    return encode(model, DatasetRef.of(model).scored(load_test_set("mnist").test_x))


def ends(lines) -> np.ndarray:
    return np.asarray(lines).reshape(-1, 4)


def open_tool(at, tool: str | None):
    """The tool picker under the map (None: no tool open)."""
    return ok(at.segmented_control(key="map_tool").set_value(tool).run())


def test_neighbour_lines_join_the_chosen_image_to_its_k_nearest(app) -> None:
    open_tool(app, "Neighbours")
    ok(app.number_input(key="map_index").set_value(42).run())
    header, _ = map_payload(app)
    enc, coords = codes(app), array(map_payload(app), "coords")
    lines = ends(header["lines_latent"])
    want = neighbours("latent", 42, 8, mean=enc.mean).ids
    np.testing.assert_allclose(lines[:, :2], np.repeat(coords[42:43], 8, 0), atol=1e-5)
    np.testing.assert_allclose(lines[:, 2:], coords[want], atol=1e-5)
    flat = load_test_set("mnist").test_x.reshape(10000, -1).numpy()
    np.testing.assert_allclose(ends(header["lines_pixel"])[:, 2:], coords[neighbours("pixel", 42, 8, images=flat).ids],
                               atol=1e-5)
    app.radio(key="nb_metric").set_value("kl")
    ok(app.slider(key="nb_k").set_value(3).run())
    header, _ = map_payload(app)
    kl = neighbours("kl", 42, 3, mean=enc.mean, std=enc.std).ids
    np.testing.assert_allclose(ends(header["lines_latent"])[:, 2:], coords[kl], atol=1e-5)
    assert any("Symmetric KL between the posteriors" in m.value for m in app.main.markdown)


def test_a_selection_is_outlined_counted_decoded_and_saved(app) -> None:
    app.session_state["map_selection"] = list(range(50))
    open_tool(app, "Selection")
    header, _ = map_payload(app)
    assert header["sel"] == list(range(50))
    assert any("50 images selected" in m.value for m in app.main.markdown)
    assert any("their mean code, decoded" in (c or "") for img in app.main.image for c in img.captions)
    ok(app.text_input(key="sel_name").input("first fifty").run())
    ok(app.button(key="sel_save").click().run())
    assert app.session_state["saved_selections"]["mnist"]["first fifty"] == list(range(50))
    open_tool(app, "Attribute vector")
    assert "selection “first fifty”" in app.selectbox(key="attr_from").options
    assert map_payload(app)[0]["sel"] == list(range(50))  # the map's selection stays outlined with any tool
    open_tool(app, "Selection")
    ok(app.button(key="sel_clear").click().run())
    assert "sel" not in map_payload(app)[0]


def test_the_attribute_path_passes_through_the_image_and_ends_at_plus_two(app) -> None:
    open_tool(app, "Attribute vector")
    ok(app.number_input(key="map_index").set_value(5).run())
    header, _ = map_payload(app)
    enc, labels = codes(app), load_test_set("mnist").test_y.numpy()
    v = attribute_vector(enc.mean, label_ids(labels, 1), label_ids(labels, 7)).vector  # the defaults
    path = np.asarray(header["path"]).reshape(-1, 2)  # a 2-D latent: the map is z
    assert len(path) == 9
    np.testing.assert_allclose(path[4], enc.mean[5], atol=1e-5)  # strength 0: the image's own code
    np.testing.assert_allclose(path[-1], enc.mean[5] + 2 * v, atol=1e-4)
    strengths = [c for img in app.main.image for c in img.captions if c and c.startswith(("+", "-"))]
    assert strengths[:3] == ["-2.0", "-1.5", "-1.0"] and "+2.0" in strengths


def test_highlight_and_thumbnails_reach_the_page(app) -> None:
    ok(app.multiselect(key="map_highlight").set_value([3, 8]).run())
    p = map_payload(app)
    assert p[0]["highlight"] == [3, 8]
    z = array(p, "thumbs_z").view(np.uint8)[:p[0]["thumbs_z_bytes"]]  # deflated (payload.map_parts)
    packed = np.frombuffer(zlib.decompress(z.tobytes()), np.uint8)
    levels = np.stack([packed & 15, packed >> 4], 1).ravel()  # pixel 2i low, 2i+1 high: as the page reads them
    test_x = load_test_set("mnist").test_x
    assert np.array_equal(levels[:784], np.round(test_x[0].numpy().ravel() * 15).astype(np.uint8))
    assert np.array_equal(levels[784:1568], np.round(test_x[1].numpy().ravel() * 15).astype(np.uint8))
    assert len(packed) == test_x.numel() // 2  # half a byte a pixel


def test_analogy_panel_decodes_both_answers(app) -> None:
    open_tool(app, "Analogy")
    ok(app.number_input(key="an_a").set_value(3).run())
    caps = [c for img in app.main.image for c in img.captions]
    assert "a = 3" in caps and "? linear" in caps and "? spherical" in caps


def test_the_maps_marks_follow_the_open_tool_and_a_new_choice_clears_them(app) -> None:
    """Neighbour lines only with Neighbours open, the attribute path only with Attribute vector; a click on
    another dot moves them to it, a click on empty space (a chosen z) clears them."""
    from explorer.ui.state import selection

    open_tool(app, None)
    ok(app.number_input(key="map_index").set_value(42).run())
    header = map_payload(app)[0]
    assert not {"lines_latent", "lines_pixel", "path"} & set(header)  # first open: no tool, no marks
    header = open_tool(app, "Neighbours") and map_payload(app)[0]
    assert header["lines_latent"] and header["lines_pixel"] and "path" not in header
    header = open_tool(app, "Attribute vector") and map_payload(app)[0]
    assert len(header["path"]) == 18 and not {"lines_latent", "lines_pixel"} & set(header)
    header = open_tool(app, "Selection") and map_payload(app)[0]
    assert not {"lines_latent", "lines_pixel", "path"} & set(header)
    open_tool(app, "Neighbours")
    app.session_state[selection.INDEX] = 7  # what a click on another dot does (selection.choose_index)
    ok(app.run())
    coords = array(map_payload(app), "coords")
    np.testing.assert_allclose(ends(map_payload(app)[0]["lines_latent"])[:, :2], np.repeat(coords[7:8], 8, 0),
                               atol=1e-5)
    app.session_state[selection.Z] = [0.5, -0.5]  # what a click on empty space does (selection.choose_z)
    ok(app.run())
    header = map_payload(app)[0]
    assert header["selected_xy"] == pytest.approx([0.5, -0.5]) and "lines_latent" not in header
    assert any("The choice is a clicked z or your drawing, not a test image" in m.value for m in app.main.info)
    open_tool(app, "Attribute vector")
    assert "path" not in map_payload(app)[0]


@pytest.mark.parametrize("sent, want", [({"ids": [3, 1, 3]}, [1, 3]), ({"ids": []}, []), ({"ids": [1, 10]}, None),
                                        ({"ids": [True]}, None), ({"ids": [1.5]}, None), ([1, 2], None),
                                        ({"ids": "1,2"}, None)])
def test_a_selection_from_the_page_is_checked(sent, want) -> None:
    assert clean_selection(sent, 10) == want


def test_the_3d_view_shows_a_model_with_three_or_more_dimensions(app) -> None:
    import json

    from explorer.latent.projection import pca_3d
    from tests.test_app import choose

    assert not any("needs a latent of 3 or more" in c.value for c in app.main.caption)  # built only while open
    app.session_state["map_beside"] = "3-D view"  # the tab is opened (its state, as a click on it sets)
    app.run()
    assert any("needs a latent of 3 or more" in c.value for c in app.main.caption)  # the 2-D model
    assert not app.get("plotly_chart") or not any(
        "scatter3d" in c.proto.spec for c in app.get("plotly_chart"))
    choose(app, "vae20")
    n = len(array(map_payload(app), "coords"))
    figs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    fig = next(f for f in figs if any(t.get("type") == "scatter3d" for t in f["data"]))
    traces = [t for t in fig["data"] if t.get("name") != "chosen"]
    got = np.zeros((n, 3))
    for t in traces:  # one trace per label; customdata holds the image indices
        got[np.asarray(base.values(t["customdata"]), int)] = np.stack([base.values(t[a]) for a in "xyz"], axis=1)
    np.testing.assert_allclose(got, pca_3d(codes(app).mean[:n])[0], atol=1e-4)
    assert any("three leading principal axes" in c.value for c in app.main.caption)


def test_a_box_or_lasso_on_the_server_drawn_map_becomes_the_selection_once(monkeypatch) -> None:
    import streamlit as st

    from explorer.ui.map import tools, view

    ss: dict = {}
    monkeypatch.setattr(st, "session_state", ss)
    ss["chart"] = {"selection": {"points": [{"customdata": [7]}, {"customdata": 3}, {"customdata": 99}]}}
    tools.take_plotly_selection("chart", 50)
    assert ss[tools.SELECTION] == [3, 7]  # in range, sorted
    assert view.consume_click("chart") is None  # many points are a box or lasso, not a click
    ss[tools.SELECTION] = []  # "Clear the selection"; the chart still holds its box
    tools.take_plotly_selection("chart", 50)
    assert ss[tools.SELECTION] == []
    ss["chart"] = {"selection": {"points": [{"customdata": 4}]}}
    tools.take_plotly_selection("chart", 50)
    assert ss[tools.SELECTION] == [] and view.consume_click("chart") == 4
