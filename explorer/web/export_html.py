"""One self-contained HTML file: the page's code and style, the model and the map (page_blob) inlined, nothing
fetched. A Content-Security-Policy in the file forbids every request (default-src 'none'; the one script is
allowed by its hash, styles inline, images from data: and blob: only), so the page works from file:// with the
network off and cannot be made to reach out. Text from a checkpoint (its name, its description) is written
through html.escape; numbers are formatted here from floats. README's "Share as one file" shows the page.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from typing import Any

from ..data.ref import model_unit
from ..model.latent_model import LatentModel
from .page_blob import FileBlob

PAGE_TITLE = "VAE Explorer"


def csp(script: str) -> str:
    """The page's policy: only this exact script runs, and nothing may be fetched or sent."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return ("default-src 'none'; script-src 'sha256-" + digest + "'; style-src 'unsafe-inline'; "
            "img-src data: blob:; base-uri 'none'; form-action 'none'")


def _number(v: Any, digits: int = 2) -> str | None:
    """A checkpoint's metric as text we make ourselves, or None when it is not a finite number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,d}"


def facts(model: LatentModel) -> list[tuple[str, str]]:
    """The model's headline numbers as (label, text) pairs: its stored test bound and log p(x) with their
    unit, KL, active dimensions, epochs. Only what the checkpoint records as numbers."""
    m, unit = model.metadata.get("metrics") or {}, model_unit(model)
    dims = math.prod(model.config.image_shape)
    out = [("latent dimensions", f"{model.latent_dim:d}"), ("parameters", f"{model.num_parameters():,d}")]
    bound = m.get("test_elbo")
    if _number(bound) is not None:
        label = "test ELBO" if model.is_variational else "test reconstruction"
        out.append((label, unit.show(float(bound), dims, model.is_variational)))
    ll, se = m.get("test_log_likelihood"), m.get("test_log_likelihood_stderr")
    if _number(ll) is not None and model.is_variational:
        k = _number(m.get("eval_k"), 0)
        err = f" ± {float(se):.3f}" if _number(se) is not None else ""
        out.append((f"log p(x), importance sampled{f' (k = {k})' if k else ''}", unit.show(float(ll), dims) + err))
    if _number(m.get("test_kl")) is not None and model.is_variational:
        out.append(("KL(q(z|x) ‖ p(z))", f"{float(m['test_kl']):.2f} nats per image"))
    if _number(m.get("active_units"), 0) is not None:
        out.append(("active dimensions", f"{int(m['active_units']):d} of {model.latent_dim:d}"))
    epochs = (model.metadata.get("history") or {}).get("epochs") or []
    if epochs:
        out.append(("epochs trained", f"{len(epochs):d}"))
    out.append(("units", f"{unit.key}: {unit.meaning}"))
    return out


def html_page(model: LatentModel, title: str, fb: FileBlob, script: str, style: str,
              notes: list[str] | None = None) -> str:
    """The file's text. title: the model's name as the person knows it (escaped like every text here);
    script: one ES module (the page's adapter and the core it imports); style: the page's CSS; notes:
    plain sentences under the numbers (e.g. what the map is)."""
    if "</script" in script.lower() or "</style" in style.lower():
        raise ValueError("the page's code would end its own <script> or <style> element")
    e = html.escape
    rows = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts(model))
    extra = "".join(f"<p class='vp-note'>{e(n)}</p>" for n in notes or [])
    half = json.dumps([[int(o), int(s)] for o, s in fb.half], separators=(",", ":"))
    data = base64.b64encode(fb.data).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{e(csp(script))}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · {PAGE_TITLE}</title>
<style>{style}</style>
</head><body>
<header class="vp-head"><h1 class="vp-title">{e(title)}</h1>
<p class="vp-desc">{e(model.describe())}</p>
<dl class="vp-facts">{rows}</dl>{extra}</header>
<main id="vp-root"><p class="vp-wait">Loading the model into this page…</p></main>
<footer class="vp-foot">Made with {PAGE_TITLE}. Everything on this page runs in your browser from this one file: \
nothing is fetched and nothing is sent.</footer>
<script type="application/octet-stream" id="vp-blob" data-half="{e(half)}">{data}</script>
<script type="module">{script}</script>
</body></html>
"""
