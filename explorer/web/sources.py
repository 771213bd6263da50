"""The code that runs in the browser, shipped inside the package (no CDN, works offline): ES modules beside this
file (the core: the forward pass, the map, the sliders, the drawing pad), thin adapters that mount the core in a
host (streamlit/*.js), and the CSS. A host gets one module string, bundled from its adapter (bundle.py). This
module imports no Streamlit, so tests can load the same code into a bare page."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .bundle import bundle

HERE = Path(__file__).resolve().parent


def source(name: str) -> str:
    """A file beside this one as text (a stylesheet, a module)."""
    return (HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def component_js(adapter: str) -> str:
    """One Streamlit component's module: streamlit/<adapter>.js and the core it imports, bundled."""
    return bundle(f"streamlit/{adapter}.js")
