"""The app's "Your images": an upload is checked, kept once per content, named for the caches, and read back
with its labels and class names; an error names the uploaded file, never the server's temporary path."""
from __future__ import annotations

import io

import numpy as np
import pytest

from explorer.ui.state import user_images


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))


def _npz(**arrays) -> bytes:
    b = io.BytesIO()
    np.savez(b, **arrays)
    return b.getvalue()


def test_an_upload_is_kept_with_its_labels_and_class_names():
    data = _npz(images=np.zeros((3, 8, 8), np.uint8), labels=np.array([0, 2, 1]))
    name = user_images.store(data, "mine.npz", (1, 8, 8))
    assert user_images.is_user_images(name) and name == user_images.store(data, "again.npz", (1, 8, 8))
    d = user_images.load(name)
    assert d.name == name and d.test_x.shape == (3, 1, 8, 8) and d.test_y.tolist() == [0, 2, 1]
    assert d.classes == ["0", "1", "2"]


def test_an_error_names_the_upload_not_a_server_path():
    with pytest.raises(ValueError) as e:
        user_images.store(_npz(images=np.zeros((3, 8, 8), np.uint8)), "mine.npz", (1, 9, 9))
    assert str(e.value).startswith("mine.npz: images of shape (1, 8, 8)") and "/tmp" not in str(e.value)
