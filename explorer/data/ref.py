"""One record of a checkpoint's data: which images a model trained and is scored on, and how its pixels
became data. The CLI, `evaluate`, the estimators, the app and the trainer all ask it; none decides alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor

from .base import ImageDataset
from .pixels import LEVELS, PIXELS, TEST_SEED, levels_of, resolve_pixels, scored_pixels
from .registry import load_dataset
from .units import Unit, unit_of


# The test images come from the data set a model names; one that names none says how to give it one.
NO_DATASET = ("this checkpoint does not name its dataset (metadata['dataset']['name']), so there are no test "
              "images to use: give your own (--images PATH: a folder, .npz/.npy or IDX file; in the app, the "
              "sidebar's \"Your images\"), or name a data set when importing (import-onnx --dataset mnist, or "
              "dataset='mnist' in explorer.from_onnx / from_torch)")


@dataclass(frozen=True)
class DatasetRef:
    """Stored as a checkpoint's metadata["dataset"]; test_from > 0 means the model trained on the first
    test_from standard test images (MNIST without its training files) and is scored on the rest only."""

    name: str | None
    pixels: str  # explorer.data.pixels: binarized | dequantized | grey
    test_from: int = 0
    test_seed: int = TEST_SEED  # the fixed noise of the scored test images
    info: dict[str, Any] = field(default_factory=dict, compare=False)  # image_shape, sizes, classes
    levels: int = LEVELS  # the images' grey levels, which dequantization fills (pixels.levels_of)

    def __post_init__(self) -> None:
        if self.pixels not in PIXELS:
            raise ValueError(f"pixels must be one of {', '.join(PIXELS)}; got {self.pixels!r}")
        if not 0 <= self.test_seed < 2**64:  # what a torch generator takes; refused here, where a file is read
            raise ValueError(f"test_seed must be a whole number from 0 to 2**64 - 1; got {str(self.test_seed)[:40]}")
        if not 2 <= self.levels <= 2**16:
            raise ValueError(f"levels must be a whole number from 2 to 65536; got {self.levels!r}")
        if self.pixels != "dequantized":  # only dequantization reads it: one record per rule
            object.__setattr__(self, "levels", LEVELS)

    @classmethod
    def from_metadata(cls, meta: dict, likelihood: str) -> "DatasetRef":
        """The record in a checkpoint's metadata; files whose record does not name its pixels (written before
        it did) are read with the trainer's old rule on train_config.binarize. A ValueError for a pixel rule
        the decoder cannot score (a Bernoulli on dequantized pixels)."""
        ds = dict(meta.get("dataset") or {})
        pixels = ds.pop("pixels", None)
        if pixels is None:
            pixels = resolve_pixels((meta.get("train_config") or {}).get("binarize", "auto"), likelihood,
                                    legacy=True)
        unit_of(pixels, likelihood)  # a pair with no meaning is refused here, at load, not on a page later
        levels = int(ds.pop("levels", LEVELS))  # a file from before levels was recorded trained on 256
        return cls(ds.pop("name", None), pixels, int(ds.pop("test_from", 0) or 0),
                   int(ds.pop("test_seed", TEST_SEED)), ds, levels)

    @classmethod
    def of(cls, model) -> "DatasetRef":
        """The record of a LatentModel: its metadata, with the pixel rule its decoder was built with (a model
        fresh from build_model has no metadata yet, but its log_prob already follows model.pixels)."""
        ref = cls.from_metadata(model.metadata, model.config.likelihood)
        ref = replace(ref, levels=getattr(model, "levels", ref.levels))  # what its decoder's offset uses
        return ref if model.pixels in (None, ref.pixels) else replace(ref, pixels=model.pixels)

    @classmethod
    def for_training(cls, data: ImageDataset, pixels: str, likelihood: str, test_seed: int = TEST_SEED,
                     levels: int | None = None) -> "DatasetRef":
        """The record a training writes: pixels is a choice (auto, binarized, ...) resolved for the decoder, levels
        the data set's own (levels_of); a resume passes its checkpoint's rule, seed and levels."""
        d = data.describe()
        name = d.pop("name")
        return cls(name, resolve_pixels(pixels, likelihood), int(d.pop("test_from", 0)), test_seed, d,
                   levels_of(name) if levels is None else levels)

    def load_training(self, data_dir: str | None = None, download: bool = False) -> ImageDataset:
        """The data a resume continues on: the bundled MNIST split again when the model trained on it (its
        held-out images must stay held out), else the named data set (MNIST's fallback included)."""
        from .training import bundled_mnist_split, load_training_data

        if self.test_from:
            return bundled_mnist_split(data_dir)
        if self.name is None:
            raise ValueError(NO_DATASET)
        return load_training_data(self.name, data_dir, download)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, **self.info, "pixels": self.pixels, "test_seed": self.test_seed}
        if self.pixels == "dequantized":
            out["levels"] = self.levels
        if self.test_from:
            out["test_from"] = self.test_from
        return out if self.name is not None else {k: v for k, v in out.items() if k != "name"}

    @property
    def split(self) -> str | None:
        """The test split as load_test_set names it: "mnist[8000:]" for a model trained on images 0-7,999."""
        if self.name is None:
            return None
        return f"{self.name}[{self.test_from}:]" if self.test_from else self.name

    def load_test(self, data_dir: str | None = None, download: bool = False) -> ImageDataset:
        """The held-out images this model is mapped and scored on (grey levels, as a person sees them)."""
        if self.split is None:
            raise ValueError(NO_DATASET)
        if self.name == "images":  # a person's own images (--images PATH): the path comes as data_dir
            from .image_files import load_images

            if data_dir is None:
                raise ValueError("these test images are a person's own: give their path (--images PATH)")
            return load_images(data_dir, tuple(self.info.get("image_shape") or (1, 28, 28)))
        kwargs = {}
        if self.name == "folder" and self.info.get("image_shape"):  # resized as the model was trained
            c, h, w = self.info["image_shape"]
            kwargs = {"size": (h, w), "rgb": c == 3}
        return load_test_set(self.split, data_dir, download, **kwargs)

    def scored(self, x: Tensor) -> Tensor:
        """Test images as the likelihood sees them: the whole split's noise drawn once with test_seed (so
        index i is the same image whatever subset is asked for later), grey levels left as they are."""
        return scored_pixels(x, self.pixels, self.test_seed, self.levels)


def load_test_set(name: str, data_dir: str | None = None, download: bool = False, **kwargs: Any) -> ImageDataset:
    """The test split the explorer maps; "mnist[8000:]" is MNIST's from image 8,000 on. From disk only by
    default: MNIST's 10,000 test images ship with the package; another data set's files must already be
    there (training fetches them), so a page never waits on a download that cannot happen offline."""
    m = re.fullmatch(r"(.+)\[(\d+):\]", name)
    base, k = (m.group(1), int(m.group(2))) if m else (name, 0)
    data = load_dataset(base, data_dir, test_only=True, download=download, **kwargs)
    if not k:
        return data
    if k >= len(data.test_x):
        raise ValueError(f"{name!r}: the {base} test split has only {len(data.test_x)} images")
    return ImageDataset(name, data.train_x, data.train_y, data.test_x[k:],
                        None if data.test_y is None else data.test_y[k:], data.classes, data.notes, k)


def model_unit(model) -> Unit:
    """The unit of a loaded model's numbers, from its checkpoint's DatasetRef and its decoder."""
    ref = DatasetRef.of(model)
    return unit_of(ref.pixels, model.config.likelihood, ref.levels)
