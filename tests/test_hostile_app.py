"""Hostile input through the app, driven headlessly with AppTest: crafted checkpoints uploaded or lying in
trained/, Markdown in file names and metadata, a picture bomb, a data directory outside the server's roots,
a bad EXPLORER_MAX_TRAININGS. Every one is a message: no exception, no traceback, nothing rendered from a
file as Markdown (issue 10, items 1-3, 7-10)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hostile_files import REPO, TRACK, good_bytes, hostile, poisoned, with_meta
from test_hostile_data import png_bomb

TIMEOUT = 300
PICKED = ("hidden 10**6", "hidden 10**300", "header shapes claim 10**6, bytes absent", "dataset a string",
          "history.state.epoch a string", "metric an object", "nested 100000 deep", "config.sigma infinite",
          "NaN weight", "truncated", "a pickle", "deep safetensors header")


def texts(at: AppTest) -> list[str]:
    """Everything the page shows as text or Markdown, image captions included."""
    out = [str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success", "text")
           for e in getattr(at, kind)]
    return out + [c or "" for part in (at.main, at.sidebar) for img in part.image for c in img.captions]


def seen(text: str) -> str:
    """Markdown text as the reader sees it (backslash escapes resolved)."""
    return re.sub(r"\\(.)", r"\1", text)


def clean(at: AppTest) -> AppTest:
    """No exception, no traceback, and no Markdown image or link built from file text (st.text shows its
    string literally, never as Markdown, so file text there may stay as it is)."""
    assert not at.exception, [e.value for e in at.exception]
    for t in texts(at):
        assert "Traceback" not in t, t
    literal = {str(e.value) for e in at.text}
    for t in texts(at):
        assert t in literal or not re.search(r"(?<!\\)!\[|(?<!\\)\]\(", t), t
    return at


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "trained"
    d.mkdir()
    base = good_bytes(tmp_path)
    (d / "good.safetensors").write_bytes(base)
    (d / "a_string_dataset.safetensors").write_bytes(with_meta(base, lambda m: m.update(dataset="mnist")))
    (d / "z_nan.safetensors").write_bytes(poisoned(base, float("nan")))
    (d / "c_huge.safetensors").write_bytes(with_meta(base, lambda m: m["config"].update(hidden=[10**6])))
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(d))
    monkeypatch.delenv("EXPLORER_MAX_TRAININGS", raising=False)
    return d


def start() -> AppTest:
    """The app with the model card's details open (they are built only while open), so file text reaches them."""
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.session_state["card_details"] = True
    return clean(at.run())


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return clean(at.sidebar.file_uploader(key="ckpt_upload").set_value((name, data, "application/octet-stream")).run())


def test_hostile_uploads_are_one_message_each(trained: Path, tmp_path: Path) -> None:
    at = start()
    clean(at.sidebar.radio(key="model_source").set_value("upload").run())
    cases = dict(hostile(tmp_path))
    for name in PICKED:
        upload(at, f"{name}.safetensors", cases[name])
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1 and "Cannot load" in errors[0] and "\n" not in errors[0], (name, errors)


def test_markdown_in_a_file_name_or_metadata_is_shown_as_text(trained: Path, tmp_path: Path) -> None:
    at = start()
    clean(at.sidebar.radio(key="model_source").set_value("upload").run())
    upload(at, f"{TRACK}.safetensors", b"junk")
    assert any(r"\!\[t\]\(http\:" in e.value for e in at.sidebar.error)
    meta = dict(status=TRACK, metrics={"note": TRACK, "test_elbo": -40.0}, note=TRACK)
    data = with_meta(good_bytes(tmp_path, **meta), lambda m: m["dataset"].update(name=TRACK))
    upload(at, f"{TRACK}.safetensors", data)
    card = "\n".join([m.value for m in at.sidebar.markdown] + [t.value for t in at.sidebar.text])
    # the name and the dataset as text (st.text), the metric in the details' text
    assert not at.sidebar.error and card.count(TRACK) >= 3, card
    for page in ("map", "decoder", "interpolate", "maths"):  # each names the model
        clean(at.switch_page(f"explorer/ui/pages/{page}.py").run())
        # the card names the model as text (st.text: shown literally, never as Markdown)
        assert any(t.value.splitlines()[0] == f"{TRACK}.safetensors" for t in at.sidebar.text), (page, texts(at))


def test_bad_files_in_trained_are_listed_as_unreadable_and_break_nothing(trained: Path) -> None:
    at = start()
    box = at.sidebar.selectbox(key="bundled_name")
    assert box.value == "good" and not at.sidebar.error  # it opens on the good one, and works
    assert sorted(o for o in box.options if o.endswith("(unreadable)")) == ["a_string_dataset (unreadable)",
                                                                          "c_huge (unreadable)"], box.options
    for name in ("a_string_dataset", "z_nan", "c_huge"):
        clean(at.sidebar.selectbox(key="bundled_name").set_value(name).run())
        (error,) = [seen(e.value) for e in at.sidebar.error]
        assert error.startswith(f"Cannot load {name}: ") and "\n" not in error, error
    clean(at.sidebar.selectbox(key="bundled_name").set_value("good").run())
    for page in ("decoder", "train"):
        clean(at.switch_page(f"explorer/ui/pages/{page}.py").run())


def test_a_picture_bomb_uploaded_on_the_interpolate_page_is_a_message(trained: Path) -> None:
    at = clean(start().switch_page("explorer/ui/pages/interpolate.py").run())
    clean(at.radio(key="src_A").set_value("upload").run())
    clean(at.file_uploader(key="up_A").set_value(("bomb.png", png_bomb(), "image/png")).run())
    assert any("12000x12000 pixels" in e.value for e in at.main.error), [e.value for e in at.main.error]


def test_a_data_directory_outside_the_roots_is_refused(trained: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EXPLORER_DATA_ROOTS", str(tmp_path / "data"))
    at = clean(start().switch_page("explorer/ui/pages/train.py").run())
    at.text_input(key="train_data_dir").set_value("/etc")
    clean(at.button(key="train_start").click().run())
    assert any("Cannot start" in e.value and "must be inside" in e.value for e in at.main.error)
    assert "session_job" not in at.session_state or at.session_state["session_job"] is None


def test_a_bad_max_trainings_is_refused_at_start(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORER_MAX_TRAININGS", "lots")
    at = start()
    assert any("EXPLORER\\_MAX\\_TRAININGS must be a whole number" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert not at.sidebar.selectbox  # the app stopped before drawing anything else


def test_a_pixel_rule_the_decoder_cannot_score_is_a_message(trained: Path) -> None:
    """A Bernoulli decoder on dequantized (continuous) pixels is neither a probability nor a density: Start
    says so next to the form instead of training numbers with no meaning."""
    at = clean(start().switch_page("explorer/ui/pages/train.py").run())
    at.selectbox(key="train_likelihood").set_value("bernoulli")
    at.selectbox(key="train_pixels").set_value("dequantized")
    clean(at.button(key="train_start").click().run())
    assert any("Cannot start" in e.value and "Bernoulli decoder cannot score dequantized" in e.value
               for e in at.main.error), [e.value for e in at.main.error]
    assert "session_job" not in at.session_state or at.session_state["session_job"] is None
