"""The guided lesson page: six steps in order, each number equal to the core's, and a clear stop for an AE."""
from __future__ import annotations

import pytest

from explorer.data.ref import DatasetRef, load_test_set
from explorer.evaluation import bound_terms, log_likelihood
from explorer.model.encoding import encode
from tests.test_app import app, choose, goto, ok, trained  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def metric(at, label: str) -> float:
    return float(next(m.value for m in at.main.metric if m.label == label))


def test_the_lesson_walks_six_steps_with_the_cores_numbers(app):  # noqa: F811
    app.session_state["lesson_index"] = 3
    goto(app, "lesson")
    assert [h.value for h in app.main.header] == [
        "1. What the encoder outputs", "2. Reparameterisation", "3. The two terms of the ELBO", "4. The gap",
        "5. Why the prior matters", "6. VAE or autoencoder"]
    model = app.session_state["_explorer_current"].model
    x = DatasetRef("mnist", "binarized").scored(load_test_set("mnist").test_x)[3]  # as the likelihood sees it (trained binarized)
    terms = bound_terms(model, x[None], samples=1000, seed=3)
    assert metric(app, "reconstruction (nats per image)") == pytest.approx(terms["recon"], abs=0.006)
    assert metric(app, "KL (nats per image)") == pytest.approx(terms["kl"], abs=0.006)
    assert metric(app, "ELBO (nats per image)") == pytest.approx(terms["elbo"], abs=0.006)
    ll = log_likelihood(model, x[None], 1000, seed=3)
    gap, gap_se = (float(v) for v in next(m.value for m in app.main.metric if m.label == "log p(x) − ELBO (nats per image)")
                   .split(" ± "))  # an estimate, shown with its standard error
    assert gap == pytest.approx(ll.estimate.item() - terms["elbo"], abs=0.006)
    assert gap_se == pytest.approx((ll.stderr.item() ** 2 + terms["elbo_se"] ** 2) ** 0.5, abs=0.006)
    text = " ".join(m.value for m in app.main.markdown)
    assert "is an estimate of that KL with its standard error" in text and "nats: exactly" not in text
    mu = encode(model, x[None]).mean[0]
    assert any(f"μ = ({mu[0]:.2f}, {mu[1]:.2f})" in m.value for m in app.main.markdown)


def test_an_autoencoder_is_told_the_lesson_needs_a_vae(app):  # noqa: F811
    choose(app, "ae2")
    goto(app, "lesson")
    assert any("This lesson is about a VAE" in w.value for w in app.main.warning)
    assert not app.main.header
