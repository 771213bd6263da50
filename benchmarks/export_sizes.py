"""What the exported HTML file weighs, part by part, under each option, and the decode error of --float16.

    python -m benchmarks.export_sizes                     # both bundled models (BENCHMARKS.md, "One HTML file")
    python -m benchmarks.export_sizes --models mnist_vae2 --no-browser

Sizes: export_page's own measure (each part deflated alone and written as base64, as the file carries it) and
the file's total. The float16 error: the file with --float16 opened in Chromium from file://, its decodes of 100
random z (2 N(0, I), as tests/test_web_forward.py) and of the first 100 mapped points' posterior means against
the float32 model in torch: the largest and the mean absolute difference of a pixel's mean (in [0, 1]).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from explorer import load_model
from explorer.data.ref import DatasetRef
from explorer.web.export import export_page, fit_map_for_export
from tests.browser_harness import REPO, launch

MODELS = {"mnist_vae2": "mnist_vae2.safetensors", "pytorch_examples_vae": "pytorch_examples_vae.vaex"}
OPTIONS = [("10,000 points, thumbnails", 10_000, True, False), ("float16 weights", 10_000, True, True),
           ("no thumbnails", 10_000, False, False), ("1,000 points", 1_000, True, False),
           ("1,000 points, no thumbnails, float16", 1_000, False, True)]
PARTS = ("weights", "thumbnails", "points", "code", "other")


def sizes(name: str) -> dict[str, object]:
    """Export the model under each option; print a table row each; return the float16 file's text and what
    the error check needs."""
    model = load_model(REPO / "trained" / MODELS[name])
    data = DatasetRef.of(model).load_test()
    enc, proj, coords = fit_map_for_export(model, data.test_x, 10_000)
    labels = data.test_y.numpy() if data.test_y is not None else None
    print(f"\n{name} ({model.num_parameters():,} parameters, map: {proj.label}); MB in the file")
    print("| options | " + " | ".join(PARTS) + " | file |")
    print("|---|" + "---:|" * (len(PARTS) + 1))
    f16 = None
    for label, n, thumbs, half in OPTIONS:
        out = export_page(model, name, enc, proj, coords[:n], labels, data.test_x, thumbs=thumbs, float16=half)
        s = out.sizes
        print(f"| {label} | " + " | ".join(f"{s[k] / 1e6:.2f}" for k in PARTS) + f" | {s['total'] / 1e6:.2f} |")
        if half and n == 10_000:
            f16 = out.text
    return {"model": model, "text": f16, "mu": enc.mean[:100]}


def float16_error(name: str, found: dict[str, object], browser) -> None:
    model = found["model"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f16.html"
        path.write_text(found["text"], encoding="utf-8")
        page = browser.new_page()
        page.goto(path.as_uri())
        page.wait_for_selector("#vp-root[data-ready='1']", timeout=60_000)
        for what, z in (("100 random z", 2 * torch.randn(100, model.latent_dim, generator=torch.Generator().manual_seed(0))),
                        ("100 mapped points' means", torch.from_numpy(np.asarray(found["mu"], np.float32)))):
            got = np.array(page.evaluate("(zs) => zs.map(window.__vp.decode)", z.tolist()))
            with torch.no_grad():
                want = model.decode(z).mean.flatten(1).numpy()
            err = np.abs(got - want)
            print(f"{name}, float16 weights, {what}: max |error| {err.max():.2e}, mean {err.mean():.2e}, "
                  f"largest per image in grey levels of 255: {255 * err.max(1).mean():.2f} on average")
        page.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--no-browser", action="store_true", help="sizes only")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    found = {name: sizes(name) for name in args.models}
    if args.no_browser:
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        print()
        for name, f in found.items():
            float16_error(name, f, browser)
        browser.close()


if __name__ == "__main__":
    main()
