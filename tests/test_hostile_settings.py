"""Settings and flags that ended in a crash or a traceback (issue 25, item 7): each is refused in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.jobs import threads_per_training
from explorer.model.devices import machine_cores

REPO = Path(__file__).resolve().parents[1]


def test_train_threads_beyond_the_machines_cores_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("EXPLORER_TRAIN_THREADS", "100000")
    with pytest.raises(ValueError, match=rf"EXPLORER_TRAIN_THREADS is 100,000, more than .* {machine_cores()} CPU"):
        threads_per_training(2)
    monkeypatch.setenv("EXPLORER_TRAIN_THREADS", str(machine_cores()))
    assert threads_per_training(2) == machine_cores()


def test_the_cli_threads_flag_is_capped_too(capsys) -> None:
    import argparse

    import torch

    from explorer.cli.common import apply_threads

    before = torch.get_num_threads()
    try:
        apply_threads(argparse.Namespace(threads=100000))
        assert torch.get_num_threads() == machine_cores()
    finally:
        torch.set_num_threads(before)
    assert f"note: --threads 100,000 is more than this machine's {machine_cores()} CPU cores" in capsys.readouterr().err


def test_a_world_size_that_is_no_number_is_one_line_on_every_command() -> None:
    env = {**os.environ, "WORLD_SIZE": "abc"}
    r = subprocess.run([sys.executable, "-m", "explorer", "info", str(REPO / "trained" / "nothing.safetensors")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: WORLD_SIZE must be a whole number") and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_warmup_inf_is_refused_while_the_arguments_are_read(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--dataset", "digits", f"--warmup={value}", "--epochs", "1"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--warmup: must be a finite number" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e9"])
def test_a_bad_heartbeat_setting_stops_the_app_with_its_name(value: str, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from explorer.ui.training.reaper_settings import heartbeat_from_env

    monkeypatch.setenv("EXPLORER_TRAINING_HEARTBEAT_S", value)
    with pytest.raises(ValueError, match="EXPLORER_TRAINING_HEARTBEAT_S must be"):
        heartbeat_from_env()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120).run()
    assert not at.exception
    assert "EXPLORER_TRAINING_HEARTBEAT_S must be" in at.error[0].value.replace("\\", "")  # markdown escapes
    monkeypatch.setenv("EXPLORER_TRAINING_HEARTBEAT_S", "2.5")
    assert heartbeat_from_env() == 2.5
