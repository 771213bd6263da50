"""The bundled models in trained/: each loads, carries its model card (config, history, metrics), is
small, and the metrics it records agree with a fresh evaluation on a subset of the test set.

Parametrised over trained/*.safetensors, so a file added later is checked the same way.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import torch

import explorer
from tests.reference_models import binarize

TRAINED = Path(__file__).resolve().parents[1] / "trained"
FILES = sorted(TRAINED.glob("*.safetensors"))
MAX_BYTES = 6 * 2**20  # the largest bundled model holds 1.07M float32 weights (4.3 MB) and no optimizer state
TEST_BINARIZE_SEED = 1234  # the trainer binarizes its whole test set once with this seed
N_ELBO = 1000  # test images for the fresh ELBO
N_LL, K_LL = 300, 100  # test images and importance samples for the fresh log-likelihood
Z = 4.0  # tolerance in standard errors: a correct file fails with probability about 6e-5

pytestmark = pytest.mark.skipif(not FILES, reason="no checkpoints in trained/")


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@functools.lru_cache(maxsize=None)
def _model(path: Path) -> explorer.LatentModel:
    return explorer.load_model(path)


@functools.lru_cache(maxsize=None)
def _test_x(name: str, binarized: bool) -> torch.Tensor:
    """The whole test split as the trainer evaluated it: binarized once (fixed seed) before any subsetting."""
    if name == "mnist":
        x = explorer.load_dataset("mnist", test_only=True).test_x  # bundled, offline
    elif name == "digits":
        x = explorer.load_dataset("digits").test_x
    else:
        pytest.skip(f"dataset {name!r} is not bundled")
    return binarize(x, seed=TEST_BINARIZE_SEED) if binarized else x


def _population(model: explorer.LatentModel) -> torch.Tensor:
    """The images the recorded metrics were computed on (`evaluate --n N` uses the first N)."""
    meta = model.metadata
    tc = meta.get("train_config") or {}
    b = tc.get("binarize", "auto")
    binarized = b == "dynamic" or (b == "auto" and model.config.likelihood == "bernoulli")  # the trainer's rule
    x = _test_x(meta["dataset"]["name"], binarized)
    n = (meta.get("metrics") or {}).get("eval_n")
    return x[:n] if n else x


def _subset(x: torch.Tensor, n: int) -> torch.Tensor:
    """n images drawn at random without replacement (MNIST's test set is ordered: easier images first)."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:n]]


def _mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    return v.mean().item(), (v.std() / math.sqrt(len(v))).item()


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_file_is_small(path: Path) -> None:
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size / 1e6:.1f} MB; strip the optimizer state before bundling"


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_loads_with_model_card(path: Path) -> None:
    meta = explorer.read_metadata(path)
    model = _model(path)
    assert isinstance(model, explorer.LatentModel)
    assert model.config == explorer.ModelConfig.from_dict(meta["config"])
    assert not model.training
    for key in ("dataset", "train_config", "history", "metrics"):
        assert meta.get(key), f"{path.name}: metadata has no {key!r}"
    epochs = meta["history"]["epochs"]
    assert epochs, f"{path.name}: empty training history"
    assert meta.get("status") != "diverged"
    metrics = meta["metrics"]
    assert math.isfinite(metrics["test_elbo"]) and math.isfinite(metrics["test_recon"])
    if "epochs" in metrics:
        assert metrics["epochs"] == epochs[-1]["epoch"]
    # the recorded split is the one this test rebuilds
    if meta["dataset"]["name"] in ("mnist", "digits"):
        assert len(_test_x(meta["dataset"]["name"], False)) == meta["dataset"]["test_size"]
    with torch.no_grad():
        x = model.decode_mean(torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (3, *model.config.image_shape) and torch.isfinite(x).all()


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_recorded_elbo_matches_fresh_subset(path: Path) -> None:
    """Recorded test ELBO (whole test set) vs a fresh single-sample ELBO on N_ELBO random test images.

    Both estimate the same mean, so their difference has mean 0 and a variance at most s^2 / n, with s the
    spread of the fresh per-image values (image-to-image spread plus the one-draw Monte Carlo noise; the
    finite-population correction 1 - n/N only shrinks it). For an AE / DAE the "ELBO" is the
    reconstruction log-likelihood and is deterministic.
    """
    model = _model(path)
    x = _subset(_population(model), N_ELBO)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = explorer.objective(model, x, estimator="analytic").bound
    fresh, se = _mean_and_stderr(elbo)
    recorded = model.metadata["metrics"]["test_elbo"]
    assert abs(fresh - recorded) <= Z * se + 1e-3, (
        f"{path.name}: recorded test ELBO {recorded:.3f}, fresh {fresh:.3f} ± {se:.3f} on {len(x)} images")


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_recorded_log_likelihood_matches_fresh_subset(path: Path) -> None:
    """Recorded importance-sampled log p(x) (large k, whole test set) vs a fresh one with K_LL samples on
    N_LL random test images, through the gap log p(x) - ELBO over the same draws.

    log (1/k) sum w_i is biased low, less so as k grows (Burda et al. 2016, theorem 1), so the fresh gap at
    k = K_LL may not exceed the recorded gap by more than Z standard errors of its per-image values. Pairing
    the two estimates on each image cancels the image-to-image spread (about 45 nats on MNIST, against about
    4 for the gap), so the bound is sharp. It is one-sided: it catches a recorded log p(x) too low for its
    ELBO (too few samples, or another model's value); importance sampling bounds log p(x) only from below,
    so a smaller k cannot show a recorded value to be too high. (The recorded ELBO is checked above.)
    """
    metrics = _model(path).metadata["metrics"]
    if "test_log_likelihood" not in metrics:
        pytest.skip("no log-likelihood recorded (an AE / DAE, or not yet evaluated)")
    evaluation = pytest.importorskip("explorer.evaluation")
    model = _model(path)
    recorded_ll, recorded_elbo = metrics["test_log_likelihood"], metrics["test_elbo"]
    k_recorded = metrics.get("eval_k")
    k = min(K_LL, k_recorded or K_LL)
    assert recorded_ll >= recorded_elbo, "log mean w is never below mean log w over the same draws (Jensen)"
    ll = evaluation.log_likelihood(model, _subset(_population(model), N_LL), k, seed=1)
    gap, se = _mean_and_stderr(ll.estimate - ll.mean_log_weight)
    recorded_gap = recorded_ll - recorded_elbo
    assert gap <= recorded_gap + Z * se, (
        f"{path.name}: fresh gap log p(x) - ELBO {gap:.3f} ± {se:.3f} (k = {k}, {N_LL} images) exceeds the "
        f"recorded gap {recorded_gap:.3f} (log p(x) {recorded_ll:.3f} with k = {k_recorded}, ELBO {recorded_elbo:.3f})")
