"""README's Python example ("The core, in Python") runs as printed, against the bundled 2-D MNIST VAE, and the
public paths README names stay importable."""
from __future__ import annotations

import importlib
import os
import re
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def core_examples(heading: str = "## The core, in Python") -> list[str]:
    """The ```python blocks of one top-level section, dedented (a block may sit in a list item)."""
    section = README.split(heading, 1)[1].split("\n## ", 1)[0]
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", section, re.S)]


def test_readme_has_a_python_example():
    assert core_examples(), "README's 'The core, in Python' section has no ```python block"


@pytest.mark.parametrize("i", range(len(core_examples())))
def test_readme_example_runs(i, monkeypatch):
    if not (REPO / "trained" / "mnist_vae2.safetensors").is_file():
        pytest.skip("trained/mnist_vae2.safetensors is absent")
    monkeypatch.chdir(REPO)  # the example opens trained/... from the repository root
    code = core_examples()[i].replace("k=5000", "k=50")  # the same call, a fraction of the samples
    scope: dict = {}
    exec(compile(code, f"README.md example {i}", "exec"), scope)  # noqa: S102 - our own README
    assert scope["x"].shape[0] == 8


@pytest.mark.parametrize("i", range(len(core_examples("## Bring your own model"))))
def test_bring_your_own_model_example_runs(i, monkeypatch, tmp_path):
    """README's from_torch example, in an empty folder (it writes my_vae.vaex), MNIST's bundled test split."""
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    code = core_examples("## Bring your own model")[i].replace("k=5000", "k=50")
    scope: dict = {}
    exec(compile(code, f"README.md 'Bring your own model' example {i}", "exec"), scope)  # noqa: S102
    assert scope["x"].shape[0] == 8 and (tmp_path / "my_vae.vaex").is_file()


@pytest.mark.parametrize("path", sorted(set(re.findall(r"`(explorer(?:\.\w+)+)", README))))
def test_readme_dotted_paths_import(path):
    """Every `explorer.x.y` README quotes is a module, or a name in one."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return
    pytest.fail(f"README names {path}, which does not import")


@pytest.mark.parametrize("path", sorted(set(re.findall(r"(?<![\w/])((?:explorer|tests|benchmarks)/[\w/]+\.(?:py|js))",
                                                         README))))
def test_readme_file_paths_exist(path):
    assert (REPO / path).is_file(), f"README names {path}, which is not there"


def test_public_api_keeps_its_names():
    import explorer

    for name in ("load_checkpoint", "load_model", "save_model", "read_metadata", "Checkpoint", "CheckpointError",
                 "ModelConfig", "ImageDataset", "load_dataset", "DatasetRef", "DeviceError", "available_devices",
                 "resolve_device", "estimate_log_likelihood", "log_likelihood", "LatentModel", "build_model",
                 "Terms", "objective", "TrainConfig", "Trainer", "TrainingDiverged"):
        assert hasattr(explorer, name), name
    from explorer.data.ref import DatasetRef
    from explorer.units import model_unit, unit_of

    assert explorer.units.model_unit is model_unit and callable(unit_of) and DatasetRef
    assert os.path.isdir(REPO / "explorer" / "evaluation")
