"""The code that runs in the browser, read once at import from the .js and .css files beside this one
(shipped inside the package: no CDN, works offline). This module imports no Streamlit, so tests can load
the same source into a bare page."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def source(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


VAENET_JS = source("vaenet.js")  # the forward pass: parse, decode, encode, logPrior
PIXELS_JS = source("pixels.js")  # drawImage: a decoded image onto a canvas
MARKS_JS = source("marks.js")  # ticks, ellipses and stars on a plot canvas
MAP_FILES = ("map_select.js", "map_pointer.js", "map_holes.js", "latent_map.js")  # the latent map's own files, exporter last


def component_js(*names: str) -> str:
    """A component's module: the shared forward pass, pixel and plot code, then its own files (the last
    one exports the component)."""
    return "\n".join((VAENET_JS, PIXELS_JS, MARKS_JS, *map(source, names)))
