"""A budget for every request that allocates (issue 25): each estimate against an allocation measured on one
case (the peak resident size of a fresh process for torch's work, tracemalloc for numpy's), and the app
refusing an upload and an encoding over the budget with one message that gives the estimate and the budget."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.model.config import ModelConfig
from explorer.model.latent_model import build_model
from explorer.store.checkpoint import save_model
from explorer.store.request_memory import (RequestEstimate, check_request, encoding_estimate, projection_estimate,
                                           upload_estimate)
from explorer.train.memory import MB, OverBudget

REPO = Path(__file__).resolve().parents[1]
MNIST = {"name": "mnist"}

# Runs in a fresh process: the peak resident size a call adds (Linux: VmHWM, reset through clear_refs), with
# the heap set as the app sets it and everything imported and warmed first.
PEAK = textwrap.dedent("""
    import gc
    from explorer.jobs.heap import tune_heap
    tune_heap()

    def status(key):
        return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) * 1024

    def peak_of(f):
        gc.collect()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base = status("VmRSS")
        out = f()
        print(status("VmHWM") - base)
        return out
""")
UPLOAD = PEAK + textwrap.dedent("""
    import sys
    from explorer.store.checkpoint import load_checkpoint_bytes
    from explorer.web.payload import pack
    pack(load_checkpoint_bytes(open(sys.argv[1], "rb").read()).model)  # warm
    data = open(sys.argv[2], "rb").read()
    peak_of(lambda: pack(load_checkpoint_bytes(data).model))  # the model, and the page's blob of it
""")
ENCODE = PEAK + textwrap.dedent("""
    import torch
    from explorer.model.config import ModelConfig
    from explorer.model.encoding import encode
    from explorer.model.latent_model import build_model
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, x = build_model(ModelConfig(latent_dim=256, hidden=(400,))).eval(), torch.rand(10_000, 1, 28, 28)
    with torch.no_grad():
        encode(model, x[:1000])  # warm
        peak_of(lambda: encode(model, x))
""")


def seen(markdown: str) -> str:
    """Markdown as the reader sees it (backslash escapes resolved)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def peak_bytes(script: str, *args: str) -> int:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to measure a peak")
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 and "Permission denied" in out.stderr:
        pytest.skip("this machine does not let a process reset its peak resident size")
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1])


def test_an_uploads_estimate_against_its_measured_build(tmp_path) -> None:
    warm = save_model(build_model(ModelConfig(latent_dim=2, hidden=(8,))), tmp_path / "warm.safetensors")
    big = save_model(build_model(ModelConfig(latent_dim=2, hidden=(3000,))), tmp_path / "big.safetensors")
    est = upload_estimate(big.read_bytes(), "big").bytes
    measured = peak_bytes(UPLOAD, str(warm), str(big))
    assert measured <= est <= 2 * measured, (measured / MB, est / MB)


def test_an_encodings_estimate_against_its_measured_peak() -> None:
    est = encoding_estimate(build_model(ModelConfig(latent_dim=256, hidden=(400,))), 10_000).bytes
    measured = peak_bytes(ENCODE)
    assert measured <= est <= 2 * measured, (measured / MB, est / MB)


@pytest.mark.parametrize("method, n, d", [("tsne", 2000, 32), ("pca", 10_000, 200)])
def test_a_projections_estimate_against_its_measured_allocations(method, n, d, monkeypatch) -> None:
    from explorer.latent.projection import TSNEProjection
    from explorer.store.map_cache import cached_projection

    monkeypatch.setattr(TSNEProjection, "max_iter", 250)  # memory does not grow with iterations
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    cached_projection(x[:100], method, None)  # imports and first-call caches
    tracemalloc.start()
    try:
        cached_projection(x, method, None)
        measured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = projection_estimate(method, n, d).bytes
    assert measured <= est <= 2 * measured, (measured / MB, est / MB)


def test_a_request_over_budget_is_refused_with_the_estimate_and_the_budget() -> None:
    check_request(RequestEstimate("a small thing", MB, "one megabyte"), 1)
    with pytest.raises(OverBudget, match=r"^a t-SNE map of 70,000 points would need about [\d,]+ MB \(.*70,000 x "
                                         r"1,000 codes.*neighbours.*\), over this server's budget of 64 MB "
                                         r"\(EXPLORER_MEMORY_BUDGET_MB"):
        check_request(projection_estimate("tsne", 70_000, 1000), 64)
    huge = encoding_estimate(build_model(ModelConfig(latent_dim=1_000_000, hidden=(1,))), 10_000)
    assert huge.bytes > 100 * 2**30  # a latent of a million: refused before a byte of it is allocated


@pytest.fixture
def trained(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "trained"
    d.mkdir()
    save_model(build_model(ModelConfig(latent_dim=20, hidden=(16,))), d / "wide_latent.safetensors", dataset=MNIST)
    monkeypatch.setenv("EXPLORER_TRAINED_DIR", str(d))
    monkeypatch.setenv("EXPLORER_DEFAULT_MODEL", "wide_latent")
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    return d


def test_the_app_refuses_an_upload_and_an_encoding_over_budget(trained, tmp_path) -> None:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [seen(e.value) for e in at.error]  # 10,000 images of 20 numbers, and a batch's layer outputs
    assert any("encoding 10,000 images would need about 11 MB" in e and "budget of 1 MB" in e for e in errors), errors

    ckpt = save_model(build_model(ModelConfig(latent_dim=2, hidden=(400,))), tmp_path / "up.safetensors", dataset=MNIST)
    at.sidebar.radio(key="model_source").set_value("upload").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value(("up.safetensors", ckpt.read_bytes(),
                                                           "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [seen(e.value) for e in at.sidebar.error]
    assert len(errors) == 1 and "Cannot load up.safetensors: building this model would need about" in errors[0], errors
    assert "budget of 1 MB" in errors[0]
