"""A person's own images (item 5 of issue 22): folder, .npz, .npy and IDX, checked against the model's shape."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from explorer.data.image_files import load_images

SHAPE = (1, 8, 8)


def _digits(n: int = 5) -> np.ndarray:
    return (np.arange(n * 64).reshape(n, 8, 8) % 256).astype(np.uint8)


def test_npz_with_labels_npy_and_flat_rows(tmp_path):
    x = _digits()
    np.savez(tmp_path / "a.npz", images=x, labels=np.arange(5))
    d = load_images(tmp_path / "a.npz", SHAPE)
    assert d.test_x.shape == (5, 1, 8, 8) and d.test_y.tolist() == [0, 1, 2, 3, 4]
    assert float(d.test_x.max()) == pytest.approx(x.max() / 255)
    np.save(tmp_path / "b.npy", x.reshape(5, 64).astype(np.float32) / 255)
    assert load_images(tmp_path / "b.npy", SHAPE).test_x.shape == (5, 1, 8, 8)
    np.save(tmp_path / "c.npy", np.repeat(x[..., None], 3, -1))  # (N, H, W, C)
    assert load_images(tmp_path / "c.npy", (3, 8, 8)).test_x.shape == (5, 3, 8, 8)


def test_idx_and_folder(tmp_path):
    x = _digits(3)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">BBBB3I", 0, 0, 8, 3, 3, 8, 8) + x.tobytes())
    assert load_images(tmp_path / "t10k-images-idx3-ubyte.gz", SHAPE).test_x.shape == (3, 1, 8, 8)
    (tmp_path / "pics" / "cat").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(x[i]).save(tmp_path / "pics" / "cat" / f"{i}.png")
    d = load_images(tmp_path / "pics", SHAPE)
    assert d.test_x.shape == (2, 1, 8, 8) and len(d.train_x) == 0


def test_wrong_shape_values_and_hostile_arrays(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((2, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="model takes 1x8x8"):
        load_images(tmp_path / "big.npy", SHAPE)
    np.save(tmp_path / "neg.npy", -np.ones((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_images(tmp_path / "neg.npy", SHAPE)
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="objects"):
        load_images(tmp_path / "obj.npy", SHAPE)
    data = (tmp_path / "big.npy").read_bytes().replace(b"(2, 16, 16)", b"(9999999999, 1)")
    (tmp_path / "claim.npy").write_bytes(data)
    with pytest.raises(ValueError, match="claims an array"):
        load_images(tmp_path / "claim.npy", SHAPE)
    np.savez(tmp_path / "lab.npz", x=_digits(), y=np.arange(4))
    with pytest.raises(ValueError, match="4 labels for 5 images"):
        load_images(tmp_path / "lab.npz", SHAPE)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="folder of pictures"):
        load_images(tmp_path / "x.txt", SHAPE)


def test_a_zipped_folder_keeps_its_classes_and_cannot_escape(tmp_path):
    import zipfile

    x = _digits(4)
    with zipfile.ZipFile(tmp_path / "pics.zip", "w") as z:
        for i in range(4):
            png = tmp_path / f"{i}.png"
            Image.fromarray(x[i]).save(png)
            z.write(png, f"pics/{'cat' if i < 2 else 'dog'}/{i}.png")
        z.writestr("../../escape.png", b"not a picture")
    d = load_images(tmp_path / "pics.zip", SHAPE)
    assert d.test_x.shape == (4, 1, 8, 8) and d.classes == ["cat", "dog"] and d.test_y.tolist() == [0, 0, 1, 1]
    assert not (tmp_path.parent / "escape.png").exists()
