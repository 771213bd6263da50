"""The saves folder on a shared server, attacked (issue 25, item 7): a setting that names a file, processes saving
at once, a corrupt owners index, names near the file system's limit. Each is saved or refused in one clear line,
and no owner entry is lost."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.store import saves
from explorer.store.atomic import atomic_write
from explorer.store.saves import SaveRefused
from hostile_files import REPO
from tests.test_app import app, ok, trained  # noqa: F401  (fixtures)
from tests.test_save_panel import finished_training, messages


def writer(text: str):
    def write(path: Path) -> Path:
        atomic_write(Path(path), text.encode())  # as a checkpoint is written: its own temporary beside it
        return Path(path)
    return write


def test_a_saves_folder_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.write_text("an admin's typo")
    with pytest.raises(SaveRefused) as e:
        saves.save_as(writer("x"), folder, "model", "alice")
    assert "not a folder" in str(e.value) and saves.SAVES_ENV in str(e.value) and "\n" not in str(e.value)
    assert folder.read_text() == "an admin's typo"


SAVER = """
import sys, time
from pathlib import Path
from explorer.store import saves
folder, who, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
(folder.parent / f"ready-{who}").touch()
while not go.exists():
    time.sleep(0.001)
for i in range(n):
    saves.save_as(lambda p: Path(p).write_text(who), folder, f"{who}-{i}", who)
"""


def test_processes_saving_at_once_lose_no_owner_entry(tmp_path: Path) -> None:
    folder, go, procs, n = tmp_path / "saved", tmp_path / "go", 4, 25
    folder.mkdir()
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    running = [subprocess.Popen([sys.executable, "-c", SAVER, str(folder), f"p{k}", str(n), str(go)], env=env)
               for k in range(procs)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < procs and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    assert [p.wait(120) for p in running] == [0] * procs
    owners = json.loads((folder / saves.OWNERS).read_text())
    assert len(list(folder.glob("*.safetensors"))) == procs * n
    assert owners == {f"p{k}-{i}.safetensors": f"p{k}" for k in range(procs) for i in range(n)}


def test_a_corrupt_owners_index_is_kept_aside_and_said(tmp_path: Path, caplog) -> None:
    saves.save_as(writer("A"), tmp_path, "alices", "alice")
    (tmp_path / saves.OWNERS).write_text('{"alices.safetensors": "alice", ')  # cut short by hand or by a disk
    with caplog.at_level(logging.WARNING, logger="explorer.store.owners"):
        saves.save_as(writer("B"), tmp_path, "bobs", "bob")
    kept = list(tmp_path.glob(saves.OWNERS + ".corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"alices.safetensors": "alice", '  # for the admin to mend
    assert any(str(kept[0].name) in r.getMessage() for r in caplog.records), caplog.text
    assert saves.owner_of(tmp_path, "bobs.safetensors") == "bob"
    with pytest.raises(SaveRefused):  # with its owner unknown, nobody may replace it: alice must ask the admin
        saves.save_as(writer("C"), tmp_path, "alices", "mallory", overwrite=True)
    assert (tmp_path / "alices.safetensors").read_text() == "A"


def test_a_name_of_200_characters_saves_and_a_longer_one_is_refused_in_one_line(tmp_path: Path) -> None:
    name = "n" * (saves.MAX_NAME - len(saves.SUFFIX))
    path = saves.save_as(writer("x"), tmp_path, name, "alice")
    assert path.name == name + saves.SUFFIX and saves.owner_of(tmp_path, path.name) == "alice"
    with pytest.raises(SaveRefused) as e:
        saves.save_as(writer("x"), tmp_path, "n" * 300, "alice")
    assert f"at most {saves.MAX_NAME} characters" in str(e.value) and "\n" not in str(e.value)


def test_the_train_page_says_once_that_the_saves_folder_is_a_file(app, trained, tmp_path, monkeypatch) -> None:  # noqa: F811
    """On main a "Replace it?" prompt came back at every click: mkdir's FileExistsError read as one's own file."""
    (tmp_path / "saved").write_text("not a folder")
    monkeypatch.setenv("EXPLORER_SAVES_DIR", str(tmp_path / "saved"))
    finished_training(app)
    ok(app.button(key="train_save").click().run())
    (error,) = [e.value for e in app.main.error]
    assert "is a file, not a folder" in messages(app) and "EXPLORER_SAVES_DIR" in messages(app), error
    assert "You already saved" not in messages(app)
