"""Whether a codes file (codes_file.Codes) belongs on a model's map, and which images its rows stand for. The app
and the notebook widget both ask here, so they refuse the same files with the same words."""
from __future__ import annotations

import numpy as np

from ..data.ref import DatasetRef
from ..data.splits import SplitImages, load_split_images
from .codes_file import Codes, CodesError


def mismatches(codes: Codes, model, digest: str | None = None) -> list[str]:
    """What differs between the file's record and the model, in words; empty when the file fits. digest: the
    model's checkpoint digest (file_cache.file_digest), when it has a file; None skips that check."""
    m, ref = codes.meta, DatasetRef.of(model)
    out = []
    if m.get("latent_dim") != model.latent_dim:
        out.append(f"latent size {m.get('latent_dim')} in the file, {model.latent_dim} in the model")
    if m.get("test_split") != ref.split:
        out.append(f"data set {m.get('test_split')} in the file, {ref.split} for the model")
    if (m.get("pixels"), m.get("test_seed")) != (ref.pixels, ref.test_seed):
        out.append(f"pixels {m.get('pixels')} (seed {m.get('test_seed')}) in the file, {ref.pixels} (seed "
                   f"{ref.test_seed}) for the model")
    if digest is not None and m.get("digest") != digest:
        out.append(f"written by checkpoint {m.get('checkpoint')} (digest {m.get('digest')}), and this model's "
                   f"digest is {digest}")
    return out


def check_fits(codes: Codes, model, digest: str | None = None, name: str = "the codes file") -> None:
    """A CodesError naming every difference when the codes are not of this model's images."""
    diff = mismatches(codes, model, digest)
    if diff:
        raise CodesError(f"{name} does not fit this model: " + "; ".join(diff))
    if codes.meta.get("images"):
        raise CodesError(f"{name} holds codes of a person's own images ({codes.meta['images']}), which the map "
                         "cannot find: give those images with the codes (in a notebook: images=...)")


def needed_split(codes: Codes) -> str:
    """The split to load for the codes' rows: only the parts they use."""
    train, test = bool(codes.from_train.any()), bool((~codes.from_train).any())
    return "both" if train and test else "train" if train else "test"


def load_codes_images(codes: Codes, ref: DatasetRef, data_dir: str | None = None) -> tuple[SplitImages, np.ndarray]:
    """The split the codes index (grey images, test rows first) and each code's row in it (codes_rows)."""
    grey = load_split_images(ref, needed_split(codes), data_dir)
    return grey, codes_rows(codes, grey)


def codes_rows(codes: Codes, grey: SplitImages, name: str = "the codes file") -> np.ndarray:
    """Each code's row in grey (a split as load_split_images gives it); a CodesError when an index is past its
    split's end or a label is not the image's own (codes of other images, or in another order)."""
    n_test = int((~grey.from_train).sum())
    n_train = len(grey.from_train) - n_test
    ft, idx = codes.from_train, codes.indices.astype(np.int64)
    if (idx[~ft] >= n_test).any() or (idx[ft] >= n_train).any():
        raise CodesError(f"{name} names images past the end of their split ({n_test:,} test, {n_train:,} "
                         "training images here)")
    rows = np.where(ft, n_test + idx, idx)
    labelled = codes.labels >= 0
    if labelled.any() and not np.array_equal(grey.labels.numpy()[rows][labelled], codes.labels[labelled]):
        raise CodesError(f"{name}'s labels are not those of the images its rows name: codes of other images")
    return rows
