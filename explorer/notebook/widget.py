"""The notebook widget: an anywidget whose page runs the latent map (hover decodes, click chooses, box and lasso
select), the decoder sliders and the drawing pad on the app's JavaScript core (explorer/web/notebook/widget.js is
the adapter, bundled with the core into one ES module). Hover, slider moves and pen strokes stay in the page; the
kernel hears a click, a finished selection, a let-go slider and "Use it". anywidget's contract (`render({model,
el})` and traitlets) is what JupyterLab, Jupyter Notebook 7, VS Code and marimo share."""
from __future__ import annotations

import numbers
import warnings
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from ..model.latent_model import LatentModel
from ..web.bundle import bundle
from ..web.payload import tile_code
from ..web.received import clean_image, clean_pick, clean_selection, clean_values, pick_rule
from ..web.sources import source
from .prepare import Prepared, draw_blob, map_blob, prepare, sliders_blob, star, z_of

CSS_FILES = ("latent_map.css", "decoder_sliders.css", "draw.css", "notebook/widget.css")


class ExplorerWidget(anywidget.AnyWidget):
    """A model's latent map, decoder sliders and drawing pad in a notebook (make one with explorer.widget).

    What the person does, readable (and settable where it says) from Python:
      chosen: the clicked image's index, or the z clicked on empty space (a list); set it to move the star
      selection: indices inside the last box or lasso, sorted
      slider_values: the sliders' values when one was last let go (coordinates along their directions)
      drawing: the image last sent with "Use it", a float32 tensor (C, H, W) in [0, 1], or None
    z is the chosen latent point (an image's posterior mean, or the z itself)."""

    _esm = bundle("notebook/widget.js")
    _css = "\n".join(source(name) for name in CSS_FILES)

    _map = traitlets.Bytes(b"").tag(sync=True)  # map_payload: the decoder, the points, the hover images
    _sliders = traitlets.Bytes(b"").tag(sync=True)  # slider_payload, started at the chosen point
    _draw = traitlets.Bytes(b"").tag(sync=True)  # the whole model, for the pad's encoder
    _star = traitlets.List(traitlets.Float()).tag(sync=True)  # [x, y, cov_xx, cov_xy, cov_yy] or []
    _drawing = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)  # {pixels, inverted, nonce}
    chosen = traitlets.Any(None).tag(sync=True)
    selection = traitlets.List(traitlets.Int()).tag(sync=True)
    slider_values = traitlets.List(traitlets.Float()).tag(sync=True)
    drawing = traitlets.Any(None)  # kernel side only: a tensor, set from _drawing once checked

    def __init__(self, prepared: Prepared, height: int = 480, tiles: str | None = None, **kwargs: Any) -> None:
        self._p = prepared
        self._version = 0
        super().__init__(**kwargs)
        self._map = map_blob(prepared, height, tiles)
        self._draw = draw_blob(prepared)
        self._sliders = sliders_blob(prepared, None, self._version)

    @property
    def z(self) -> torch.Tensor | None:
        """The chosen latent point (D,), or None when nothing is chosen."""
        return None if self.chosen is None else z_of(self._p, self.chosen)

    @property
    def images(self) -> torch.Tensor:
        """The images on the map, (N, C, H, W) in [0, 1]: chosen and selection index them."""
        return self._p.x

    @traitlets.validate("chosen")
    def _valid_chosen(self, proposal: dict) -> int | list[float] | None:
        # from the page or from Python: an index of a point on the map, or a finite z of the latent's size
        v = proposal["value"]
        if v is None:
            return None
        if isinstance(v, (torch.Tensor, np.ndarray)):
            v = v.tolist()
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            v = {"index": int(v)}
        elif isinstance(v, (list, tuple)):
            v = {"z": [a if isinstance(a, bool) else int(a) if isinstance(a, numbers.Integral)
                       else float(a) if isinstance(a, numbers.Real) else a for a in v]}  # an int may not fit a float
        pick = clean_pick(v, len(self._p.x), self._p.model.latent_dim)
        if pick is None:
            raise traitlets.TraitError(f"chosen must be {pick_rule(len(self._p.x), self._p.model.latent_dim)}, "
                                       f"got {str(proposal['value'])[:80]}")
        return pick.get("index", pick.get("z"))

    @traitlets.validate("selection")
    def _valid_selection(self, proposal: dict) -> list[int]:
        ids = clean_selection({"ids": [int(i) if isinstance(i, numbers.Integral) and not isinstance(i, bool)
                                       else i for i in proposal["value"]]}, len(self._p.x))
        if ids is None:
            raise traitlets.TraitError(f"selection must hold indices below {len(self._p.x)}")
        return ids

    @traitlets.validate("slider_values")
    def _valid_sliders(self, proposal: dict) -> list[float]:
        c = clean_values(list(proposal["value"]), self._p.basis.U.shape[1])
        if c is None:
            raise traitlets.TraitError(f"slider_values must be {self._p.basis.U.shape[1]} finite numbers")
        return c

    @traitlets.observe("chosen")
    def _chosen_changed(self, change: dict) -> None:
        # the star moves alone (a few numbers); the sliders start again at the new point
        self._star = star(self._p, change["new"])
        self._version += 1
        self._sliders = sliders_blob(self._p, change["new"], self._version)

    @traitlets.observe("_drawing")
    def _drawing_sent(self, change: dict) -> None:
        if change["new"] is None:
            return
        x = clean_image(change["new"], tuple(self._p.model.config.image_shape))
        if isinstance(x, str):
            warnings.warn(f"the drawing that came back from the page cannot be used ({x})", stacklevel=2)
            return
        self.drawing = x


def widget(model: LatentModel, images: Any = None, labels: Any = None, *, codes: Any = None,
           data_dir: str | None = None, projection: str | None = None, height: int = 480,
           tiles: str | None = None) -> ExplorerWidget:
    """The explorer for a model (native, or from explorer.from_torch / from_onnx / a .vaex file) in a notebook.

    images: (N, C, H, W), (N, H, W), (N, H, W, C) or flat rows, grey levels in [0, 1] or 0..255; by default the
    test split of the data set the model names. labels: one whole number per image (the map's colours).
    codes: the points' codes instead of encoding the images: a codes.npz path (`python -m explorer encode`; checked
    against the model, its images found from its rows, the training split's in data_dir or EXPLORER_DATA_DIR,
    unless images are given), or (N, D) posterior means, or a (means, stds) pair, one row per image.
    projection: "pca", "tsne" or "umap" for a latent of more than two dimensions (default PCA, which the pointer
    can invert); a 2-D latent is its own map. height: the map's, in CSS px. tiles: what the map draws where few
    points are in view, "image" (the default), "decoded" (the page's decoder on each point's mean) or "dots"; the
    map's own control changes it."""
    if tiles is not None:
        tile_code(tiles)  # a wrong name fails before the images are encoded
    prepared = prepare(model, images, labels, projection, codes=codes, data_dir=data_dir)
    return ExplorerWidget(prepared, height=height, tiles=tiles)
