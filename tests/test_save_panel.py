"""The Train page's save row in the app: a unique name in the saves folder, a question before replacing
one's own file, a refusal for somebody else's, and the bundled folder untouched."""
from __future__ import annotations

import json
import re
import time

import pytest

from explorer import load_model
from tests.test_app import app, goto, ok, trained  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def finished_training(at) -> None:
    goto(at, "train")
    at.selectbox(key="train_dataset").set_value("digits")
    at.text_input(key="train_hidden").set_value("16")
    at.number_input(key="train_epochs").set_value(1)
    ok(at.button(key="train_start").click().run())
    job = at.session_state["train_job"]
    deadline = time.monotonic() + 120
    while job.snapshot().active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.snapshot().status == "finished", job.snapshot().message
    ok(at.run())


def messages(at) -> str:
    """The page's messages as a reader sees them (file text in them is backslash-escaped)."""
    return re.sub(r"\\(.)", r"\1", " ".join(m.value for m in [*at.main.success, *at.main.error, *at.main.warning]))


def test_saves_are_unique_ask_before_replacing_ones_own_and_refuse_anothers(app, trained, tmp_path,  # noqa: F811
                                                                            monkeypatch):
    saves = tmp_path / "saved"
    monkeypatch.setenv("EXPLORER_SAVES_DIR", str(saves))
    bundled = sorted(p.name for p in trained.iterdir())
    finished_training(app)
    name = app.text_input(key="train_save_name").value
    assert name.startswith("digits-vae-z2-") and name.endswith(".safetensors")
    ok(app.button(key="train_save").click().run())
    assert f"Saved {name}" in messages(app) and (saves / name).is_file()
    first = (saves / name).read_bytes()
    ok(app.button(key="train_save").click().run())  # the same name again: this browser's own file
    assert "You already saved a model as" in messages(app)
    ok(app.button(key="train_save_cancel").click().run())
    assert "You already saved" not in messages(app) and (saves / name).read_bytes() == first
    ok(app.button(key="train_save").click().run())
    ok(app.button(key="train_save_overwrite").click().run())
    assert f"Saved {name}" in messages(app)
    assert load_model(saves / name).metadata["status"] == "finished"
    (saves / "taken.safetensors").write_bytes(b"somebody's model")  # another student's file
    index = json.loads((saves / ".owners.json").read_text())
    (saves / ".owners.json").write_text(json.dumps({**index, "taken.safetensors": "another-browser"}))
    app.text_input(key="train_save_name").set_value("taken")
    ok(app.button(key="train_save").click().run())
    assert "taken.safetensors was saved by somebody else; choose another name" in messages(app)
    assert (saves / "taken.safetensors").read_bytes() == b"somebody's model"
    assert sorted(p.name for p in trained.iterdir()) == bundled  # the bundled folder is never written
    ok(app.sidebar.radio(key="model_source").set_value("saved").run())
    assert app.sidebar.selectbox(key="saved_name").options[0].startswith("taken")  # newest first
