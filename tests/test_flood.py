"""A flood in one message (issue 25, item 6): the browser may send many events in one websocket message, and
Streamlit calls a component's callback once per event. Each call of ours reads the component's value, which
holds every event, so N events cost N^2 (a forged message of 20,000 map clicks held the server for 59 s). The
callbacks now do their work once per message, on its latest event."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.store.checkpoint import save_model
from explorer.web import received

REPO = Path(__file__).resolve().parents[1]
MNIST = {"name": "mnist", "image_shape": [1, 28, 28], "train_size": 60000, "test_size": 10000,
         "classes": [str(i) for i in range(10)]}
EVENTS = 3000

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def app(tmp_path, monkeypatch) -> AppTest:
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 28, 28), latent_dim=2, kind="vae", hidden=(16,))).eval()
    save_model(model, tmp_path / "vae2.safetensors", dataset=MNIST, train_config={"binarize": "auto"},
               status="finished", history={"epochs": [{"epoch": 1}]}, metrics={"test_elbo": -500.0})
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(tmp_path))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def flood(at: AppTest, element_key: str, events: list[dict]) -> AppTest:
    """Rerun with every event in one message, as a forged websocket message would carry them."""
    from streamlit.components.v2.bidi_component.main import _make_trigger_id

    comp = next(e for e in at.main.get("bidi_component") if e.proto.id.endswith(f"-{element_key}"))
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=_make_trigger_id(comp.proto.id, "events"),
                                      json_trigger_value=json.dumps(events)))
    return at._run(states)


def counted(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(received, name)
    monkeypatch.setattr(received, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_message_of_thousands_of_map_clicks_is_read_once_and_its_last_click_wins(app, monkeypatch) -> None:
    picks = counted(monkeypatch, "clean_pick")
    t0 = time.perf_counter()
    at = flood(app, "latent_canvas", [{"event": "pick", "value": {"index": i}} for i in range(EVENTS)])
    print(f"{EVENTS} clicks in one message: {time.perf_counter() - t0:.2f} s")
    assert not at.exception, [e.value for e in at.exception]
    assert len(picks) == 1, f"the click handler read the component {len(picks)} times for one message"
    assert at.number_input(key="map_index").value == EVENTS - 1
    # the next message's click is handled as usual
    at = flood(at, "latent_canvas", [{"event": "pick", "value": {"index": 7}}])
    assert at.number_input(key="map_index").value == 7 and len(picks) == 2


def test_a_message_of_thousands_of_lassos_is_read_once(app, monkeypatch) -> None:
    selections = counted(monkeypatch, "clean_selection")
    at = flood(app, "latent_canvas", [{"event": "select", "value": {"ids": [i, i + 1]}} for i in range(EVENTS)])
    assert not at.exception, [e.value for e in at.exception]
    assert len(selections) == 1, f"the selection handler read the component {len(selections)} times"


def test_a_message_of_thousands_of_slider_moves_is_read_once(app, monkeypatch) -> None:
    values = counted(monkeypatch, "clean_values")
    at = app.switch_page("explorer/ui/pages/decoder.py").run()
    assert not at.exception, [e.value for e in at.exception]
    k = len(at.session_state["dec_c"])
    before = len(values)
    at = flood(at, "dec_sliders", [{"event": "c", "value": [0.01 * i] * k} for i in range(EVENTS)])
    assert not at.exception, [e.value for e in at.exception]
    assert len(values) - before == 1, f"the sliders' handler read the component {len(values) - before} times"
    assert at.session_state["dec_c"] == pytest.approx([0.01 * (EVENTS - 1)] * k)
