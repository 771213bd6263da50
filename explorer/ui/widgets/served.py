"""In-page components whose code and big data travel once, by URL: Streamlit's media files (content-addressed,
kept while a run shows them) serve a component's bundled module and its blob; the component's data is their URLs
and a few numbers, all that a rerun re-sends (issue 24: a click sends a click). An inline module would travel in
every rerun's message, tens of KB each time."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st
from streamlit import runtime

from explorer.web.sources import component_js, source

# the module each component registers: it imports the real one from data.js (once; the browser keeps it) and hands
# it the component. A cleanup that comes before the import resolves stops that render as soon as it has run.
LOADER = """const mods = {};
export default function (component) {
  const url = new URL(String(component.data.js).replace(/^\\//, ""), document.baseURI).href;
  let stop = null, done = false;
  const run = (m) => { stop = m.default(component) || null; if (done && stop) stop(); };
  if (mods[url]) run(mods[url]); else import(url).then((m) => { mods[url] = m; run(m); });
  return () => { done = true; if (stop) stop(); };
}
"""
_LAST: dict[str, tuple[str, bytes]] = {}  # coordinates -> (URL, bytes) last served: for tests (AppTest's files go)


def serve(data: bytes, mimetype: str, name: str) -> str:
    """data's URL on this server (the same bytes, the same URL), kept while this session's page shows it: call on
    every run that shows it (Streamlit's media file manager drops a file no run has shown since)."""
    url = runtime.get_instance().media_file_mgr.add(data, mimetype, f"vx:{name}")
    _LAST[name] = (url, data)
    return url


def served(url: str) -> bytes | None:
    """The bytes last served at url (for tests), or None."""
    return next((data for u, data in _LAST.values() if u == url), None)


def component(name: str, adapter: str, css: str) -> Callable[..., Any]:
    """A v2 component for explorer/web/streamlit/<adapter>.js, its module served by URL. Returns mount(key,
    data={...}, **callbacks): data gains "js", the module's URL; blob=bytes serves those too, as data "url"."""
    js = component_js(adapter).encode("utf-8")
    comp = st.components.v2.component(name, js=LOADER, css=source(css))

    def mount(key: str, data: dict[str, Any], blob: bytes | None = None, **callbacks: Any) -> Any:
        data = {**data, "js": serve(js, "text/javascript", f"{adapter}.js")}
        if blob is not None:
            data["url"] = serve(blob, "application/octet-stream", f"{adapter}:{key}")
        return comp(data=data, key=key, **callbacks)

    return mount
