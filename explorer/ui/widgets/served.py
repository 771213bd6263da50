"""In-page components whose code and big data travel once, by URL: Streamlit's media files (content-addressed,
kept while a run shows them) serve a component's bundled module and its blob; the component's data is their URLs
and a few numbers, all that a rerun re-sends (issue 24: a click sends a click). An inline module would travel in
every rerun's message, tens of KB each time."""
from __future__ import annotations

import json
from typing import Any, Callable

import streamlit as st
from streamlit import runtime

from explorer.web.sources import component_js, source

# the module each component registers, short (it travels in every rerun's message): it imports the real one from
# data.js once (the browser keeps it), puts that module's css in the component's element once, and hands it the
# component. A cleanup that comes before the import resolves stops that render as soon as it has run.
LOADER = ("const M={};export default function(c){const u=new URL(String(c.data.js).replace(/^\\//,''),"
          "document.baseURI).href,e=c.parentElement;\n"
          "let s=null,d=0;const r=m=>{if(!e.querySelector(':scope>style.vx-css'))"
          "{const t=document.createElement('style');t.className='vx-css';t.textContent=m.css;e.prepend(t)}"
          "s=m.default(c)||null;if(d&&s)s()};if(M[u])r(M[u]);else import(u).then(m=>{M[u]=m;r(m)});"
          "return()=>{d=1;if(s)s()}}\n")  # a newline: Streamlit reads a one-line string as a file's path
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
    """A v2 component for explorer/web/streamlit/<adapter>.js and its stylesheet css, served by URL. Returns mount(key,
    data={...}, **callbacks): data gains "js", the module's URL; blob=bytes serves those too, as data "url"."""
    js = (component_js(adapter) + f"\nexport const css = {json.dumps(source(css))};\n").encode("utf-8")
    comp = st.components.v2.component(name, js=LOADER)

    def mount(key: str, data: dict[str, Any], blob: bytes | None = None, **callbacks: Any) -> Any:
        data = {**data, "js": serve(js, "text/javascript", f"{adapter}.js")}
        if blob is not None:
            data["url"] = serve(blob, "application/octet-stream", f"{adapter}:{key}")
        return comp(data=data, key=key, **callbacks)

    return mount
