"""Readable page URLs and presenter mode (pictures twice the size)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui import nav
from tests.test_app import REPO, app, ok, trained  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_every_page_has_its_readable_url():
    assert [u for *_, u in nav.PAGES] == ["map", "decoder", "interpolate", "maths", "train", "lesson"]


def picture_widths(at: AppTest, monkeypatch) -> list[int]:
    """The width of every picture the page made in one run (pictures.png_bytes is what makes them)."""
    from explorer.ui.widgets import pictures

    widths: list[int] = []
    real = pictures.png_bytes

    def spy(img, scale=1):
        widths.append(img.shape[-1] * scale)
        return real(img, scale=scale)

    monkeypatch.setattr(pictures, "png_bytes", spy)
    ok(at.run())
    monkeypatch.setattr(pictures, "png_bytes", real)
    return widths


def test_presenter_mode_from_the_url_doubles_the_pictures(app: AppTest, monkeypatch):  # noqa: F811
    normal = picture_widths(app, monkeypatch)
    assert normal and app.sidebar.toggle(key="present").value is False
    app.query_params["present"] = "1"
    app.session_state["present"] = True  # as the toggle or a fresh session from ?present=1 sets it
    assert picture_widths(app, monkeypatch) == [2 * w for w in normal]
    assert any("--vx-scale: 2" in h.proto.body for h in app.get("html"))
    app.sidebar.toggle(key="present").set_value(False)
    assert picture_widths(app, monkeypatch) == normal
    assert not any("--vx-scale" in h.proto.body for h in app.get("html"))


def test_a_fresh_session_opened_with_present_in_the_url_presents(trained, monkeypatch):  # noqa: F811
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(trained))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.query_params["present"] = "1"
    ok(at.run())
    assert at.sidebar.toggle(key="present").value is True
    assert any("--vx-scale: 2" in h.proto.body for h in at.get("html"))
