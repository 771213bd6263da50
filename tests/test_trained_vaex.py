"""The bundled imported models (trained/*.vaex): each loads through the checkpoint's checks, carries the card
and the record trained/README.md states, runs its encoder and decoder, and the metrics it records agree with a
fresh evaluation on a subset of its test set (the same tests as tests/test_trained.py's for native files, on
the images its own DatasetRef scores: grey levels for the pytorch/examples VAE)."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

import explorer
from explorer.data.ref import DatasetRef
from explorer.model.imported import ImportedModel
from tests.test_trained import K_LL, MAX_BYTES, N_ELBO, N_LL, Z, _mean_and_stderr, _subset

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

from benchmarks.pytorch_examples_vae import VAE, largest_difference  # noqa: E402 - the script that made the file
TRAINED = Path(__file__).resolve().parents[1] / "trained"
FILES = sorted(TRAINED.glob("*.vaex"))
EXAMPLE = TRAINED / "pytorch_examples_vae.vaex"
pytestmark = pytest.mark.skipif(not FILES, reason="no .vaex files in trained/")


@functools.lru_cache(maxsize=None)
def _model(path: Path) -> ImportedModel:
    return explorer.load_model(path)


def _population(model: ImportedModel) -> torch.Tensor:
    """The test images the recorded metrics score: the model's split under its pixel rule, first eval_n."""
    ref = DatasetRef.of(model)
    x = ref.scored(ref.load_test().test_x)
    n = (model.metadata.get("metrics") or {}).get("eval_n")
    return x[:n] if n else x


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_loads_small_with_a_card(path: Path) -> None:
    assert path.stat().st_size <= MAX_BYTES
    model = _model(path)
    assert isinstance(model, ImportedModel)
    meta = model.metadata
    for key in ("dataset", "history", "metrics", "trained_by"):
        assert meta.get(key), f"{path.name}: metadata has no {key!r}"
    x = _population(model)[:8]
    with torch.no_grad():
        q = model.encode(x)
        z = q.mean
        px = model.decode(z)
    assert z.shape == (8, model.latent_dim) and bool((q.stddev > 0).all())
    assert px.mean.shape == (8, *model.config.image_shape) and torch.isfinite(px.log_prob(x)).all()


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="trained/pytorch_examples_vae.vaex is absent")
def test_pytorch_examples_vae_is_as_stated() -> None:
    """The card and record trained/README.md describes: 784-400-20 imported from ONNX, grey MNIST, the example's
    ten epochs of losses, where the code came from, and its graphs computing what the example's module computes."""
    model = _model(EXAMPLE)
    card, meta = model.card, model.metadata
    assert (card.image_shape, card.latent_dim, card.encoder_output, card.likelihood, card.layout, card.source) == (
        (1, 28, 28), 20, "mean_logvar", "bernoulli_probs", "flat", "onnx")
    assert model.num_parameters() == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784
    assert meta["dataset"]["name"] == "mnist" and meta["dataset"]["pixels"] == "grey"
    assert explorer.units.model_unit(model).key == "grey cross-entropy"
    epochs = meta["history"]["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(1, 11))
    assert all(e["test_elbo"] == -e["test_loss"] and e["train_bound"] == -e["train_loss"] for e in epochs)
    assert 100 < epochs[-1]["test_loss"] < 110 < epochs[0]["test_loss"]  # the example's ~105 after 10 epochs
    src = meta["trained_by"]
    assert src["program"] == "pytorch/examples vae/main.py" and src["licence"].startswith("BSD-3-Clause")
    assert src["import_check"]["max_abs_difference"] <= 1e-5
    # the example's own module, its weights read from the two graphs, agrees with the imported model to 1e-5
    vae = VAE()
    graphs = [onnx.load_from_string(net.data).graph for net in (model.encoder, model.decoder)]
    vae.load_state_dict({t.name.removeprefix("vae."): torch.from_numpy(numpy_helper.to_array(t).copy())
                         for g in graphs for t in g.initializer})
    assert largest_difference(vae.eval(), model, _population(model)[:200]) <= 1e-5


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_recorded_elbo_matches_fresh_subset(path: Path) -> None:
    """As tests/test_trained.py: the recorded test ELBO against a fresh one-draw ELBO on N_ELBO images."""
    model = _model(path)
    x = _subset(_population(model), N_ELBO)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = explorer.objective(model, x, estimator="analytic").bound
    fresh, se = _mean_and_stderr(elbo)
    recorded = model.metadata["metrics"]["test_elbo"]
    assert abs(fresh - recorded) <= Z * se + 1e-3, f"recorded {recorded:.3f}, fresh {fresh:.3f} ± {se:.3f}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_recorded_log_likelihood_matches_fresh_subset(path: Path) -> None:
    """As tests/test_trained.py: the fresh gap log p(x) - ELBO at small k may not exceed the recorded one."""
    from explorer.evaluation import log_likelihood

    model = _model(path)
    metrics = model.metadata["metrics"]
    recorded_gap = metrics["test_log_likelihood"] - metrics["test_elbo"]
    assert recorded_gap >= 0
    ll = log_likelihood(model, _subset(_population(model), N_LL), min(K_LL, metrics.get("eval_k") or K_LL), seed=1)
    gap, se = _mean_and_stderr(ll.estimate - ll.mean_log_weight)
    assert gap <= recorded_gap + Z * se, f"fresh gap {gap:.3f} ± {se:.3f} over the recorded {recorded_gap:.3f}"
