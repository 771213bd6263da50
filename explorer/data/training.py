"""Training data with MNIST's offline fallback, shared by the app's Train page and `train --bundled-split`."""
from __future__ import annotations

from .base import ImageDataset
from .registry import load_dataset

BUNDLED_TRAIN = 8000  # of MNIST's 10,000 bundled test images; the other 2,000 stay held out


def load_training_data(name: str, data_dir: str | None = None, download: bool = False) -> ImageDataset:
    """load_dataset, except that MNIST without its training files falls back to the bundled
    10,000-image test split (8,000 to train on, 2,000 held out), with a note saying so. The result's
    test_from (8,000) goes into the checkpoint, so evaluation and the map use the held-out images only.

    download=False by default: a class server should not fetch data because someone pressed Start.
    """
    try:
        return load_dataset(name, data_dir or None, download=download)
    except FileNotFoundError:  # DataNotFound: neither on disk nor (allowed to be) downloaded
        if name != "mnist":
            raise
    data = bundled_mnist_split(data_dir)
    data.notes.append("Full MNIST was not found (set EXPLORER_DATA_DIR or give its directory), so this "
                      "trains on the bundled MNIST test split: 8,000 images to train on, 2,000 held out.")
    return data


def bundled_mnist_split(data_dir: str | None = None) -> ImageDataset:
    """MNIST's standard test split (bundled with the package) cut in two: its first 8,000 images to train
    on, the other 2,000 as the test set (test_from = 8,000)."""
    test = load_dataset("mnist", data_dir or None, test_only=True)
    n = BUNDLED_TRAIN
    return ImageDataset("mnist", test.test_x[:n], test.test_y[:n], test.test_x[n:], test.test_y[n:], test.classes,
                        test_from=n)
