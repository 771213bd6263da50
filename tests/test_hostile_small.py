"""Issue 25's small ones (item 7), each refused in one clear line where it is read: a test_seed too large for
any generator, a forged map click at a non-finite or huge z, a model whose numbers turn NaN."""
from __future__ import annotations

from pathlib import Path

import pytest

from explorer.cli import main
from explorer.store.checkpoint import CheckpointError, load_checkpoint_bytes
from hostile_files import good_bytes, with_meta


def test_a_test_seed_of_2_to_the_70_is_refused_where_the_file_is_read(tmp_path: Path, capsys) -> None:
    data = with_meta(good_bytes(tmp_path), lambda m: m["dataset"].update(test_seed=2**70))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_bytes(data, name="upload")
    assert str(e.value).startswith("upload: ") and "test_seed" in str(e.value) and "\n" not in str(e.value)
    path = tmp_path / "seed.safetensors"
    path.write_bytes(data)
    for command in (["info", str(path)], ["evaluate", str(path), "--k", "2", "--n", "4", "--quiet"]):
        assert main(command) != 0
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "test_seed" in err and err.count("\n") == 1, (command, err)
