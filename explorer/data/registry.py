"""Dataset names -> loaders. Every loader takes (data_dir, *, test_only, download, ...its own options)."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

from .base import ImageDataset
from .digits import load_digits
from .folder import load_folder
from .frey import load_frey
from .mnist import load_fashion_mnist, load_mnist

DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "digits": load_digits, "frey": load_frey,
    "folder": load_folder,
}


def load_dataset(name: str, data_dir: str | Path | None = None, **kwargs: object) -> ImageDataset:
    """Load a dataset by name, e.g. load_dataset("mnist", test_only=True) or
    load_dataset("folder", "~/pictures", size=(64, 64), rgb=True)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    loader = DATASETS[name]
    options = [p for p in inspect.signature(loader).parameters if p != "data_dir"]
    unknown = sorted(set(kwargs) - set(options))
    if unknown:  # a typo must not be silently ignored
        raise ValueError(f"dataset {name!r} has no option {', '.join(unknown)}; it takes {', '.join(options)}")
    return loader(data_dir=data_dir, **kwargs)
