"""The single homes the trainer and the app share: binned history, seed mixing, batches per epoch."""
from __future__ import annotations

import copy

import pytest

from explorer.model.seeds import TRAIN_EVAL, TRAIN_ORDER, mix_seed
from explorer.train.distributed import batches_per_epoch
from explorer.train.history import add_step, curves, open_history


def rec(i: int) -> dict:
    return {"step": i + 1, "epoch": i / 10, "recon": float(i), "kl": 1.0, "bound": 1.0 - i, "beta": 1.0}


def test_bins_stay_under_the_limit_and_keep_exact_means() -> None:
    h = open_history(None)
    for i in range(1000):
        add_step(h, rec(i), max_points=8)
    assert len(h["steps"]) < 8 and h["state"]["partial"]["every"] == 128
    # every closed bin is the mean of its steps: recon of steps a..b is (a + b) / 2 (0-based values)
    first = h["steps"][0]
    assert first["step"] == 128 and first["recon"] == pytest.approx(127 / 2)
    assert curves(h)["step"] == [p["step"] for p in h["steps"]]


def test_a_history_resumed_from_any_step_ends_as_the_uninterrupted_one() -> None:
    full = open_history(None)
    for i in range(300):
        add_step(full, rec(i), max_points=16)
    for cut in (1, 37, 128, 299):
        h = open_history(None)
        for i in range(cut):
            add_step(h, rec(i), max_points=16)
        h = open_history(copy.deepcopy(h))  # through a checkpoint
        for i in range(cut, 300):
            add_step(h, rec(i), max_points=16)
        assert h == full


def test_an_old_long_history_is_merged_down_and_its_odd_point_kept() -> None:
    h = open_history({"steps": [{**rec(i), "step": i + 1} for i in range(2001)], "epochs": [], "state": {}})
    add_step(h, rec(2001), max_points=1000)
    assert len(h["steps"]) < 1000 and h["steps"][-1]["step"] == 2002


def test_batches_per_epoch_drops_a_last_batch_too_small_to_share() -> None:
    assert batches_per_epoch(1438, 128) == 12
    assert batches_per_epoch(129, 128, world_size=2) == 1  # one example left for two ranks: dropped
    assert batches_per_epoch(130, 128, world_size=2) == 2
    with pytest.raises(ValueError, match="smaller than the 4 processes"):
        batches_per_epoch(100, 2, world_size=4)


def test_seeds_of_different_streams_and_neighbours_differ() -> None:
    seeds = {mix_seed(s, tag, i) for s in range(4) for tag in (TRAIN_ORDER, TRAIN_EVAL) for i in range(50)}
    assert len(seeds) == 4 * 2 * 50
    assert mix_seed(0, 1, 0) != mix_seed(0, 0, 1) and mix_seed(1, 0) != mix_seed(0, 1)
    assert 0 <= mix_seed(2**40, 2**40) < 2**64  # any torch generator accepts it
    with pytest.raises(ValueError):
        mix_seed(0)


def test_an_old_history_keeps_its_bin_width_when_resumed():
    """A history saved before bins recorded their width goes on in bins of the width its points show, so
    the points before and after the resume weigh the same number of steps."""
    old = {"steps": [{"step": s, "epoch": s / 100, "recon": -1.0, "kl": 1.0, "elbo": -2.0, "beta": 1.0}
                     for s in (8, 16, 24)], "epochs": [], "state": {"epoch": 0, "step": 24, "batch": 24}}
    h = open_history(old)
    assert h["state"]["partial"]["every"] == 8
    for s in range(25, 33):
        add_step(h, {"step": s, "epoch": s / 100, "recon": -3.0, "kl": 1.0, "bound": -4.0, "beta": 1.0})
    assert [p["step"] for p in h["steps"]] == [8, 16, 24, 32] and h["steps"][-1]["recon"] == -3.0


def test_an_old_history_names_its_bound_under_its_own_keys():
    """Histories written before the bound had its own keys held it under "elbo" / "train_elbo", the IWAE bound
    when the run trained with iwae_k > 1: opened, they read as today's, named by the run's k."""
    old = {"steps": [{"step": 8, "epoch": 0.1, "recon": -1.0, "kl": 1.0, "elbo": -1.5, "beta": 1.0}],
           "epochs": [{"epoch": 1, "step": 8, "train_elbo": -1.5, "test_elbo": -2.0}],
           "state": {"partial": {"bin": {"recon": -1.0, "kl": 1.0, "elbo": -1.5, "beta": 1.0, "n": 1},
                                 "sums": {"recon": -1.0, "kl": 1.0, "elbo": -1.5, "n": 1}}}}
    h = open_history(old, iwae_k=5)
    assert h["steps"][0]["bound"] == -1.5 and "elbo" not in h["steps"][0]
    assert h["epochs"][0] == {"epoch": 1, "step": 8, "train_bound": -1.5, "bound_name": "IWAE bound (k = 5)",
                              "test_elbo": -2.0}
    assert h["state"]["partial"]["bin"]["bound"] == h["state"]["partial"]["sums"]["bound"] == -1.5
    assert curves(h)["bound"] == [-1.5]


def test_a_bundled_checkpoint_with_old_keys_loads_with_todays():
    import explorer
    from pathlib import Path
    model = explorer.load_model(Path(__file__).resolve().parents[1] / "trained" / "mnist_vae50.safetensors")
    h = model.metadata["history"]
    assert all("bound" in p and "elbo" not in p for p in h["steps"])
    assert all(e["bound_name"] == "ELBO" and "train_elbo" not in e for e in h["epochs"])
    assert "bound" in h["state"]["partial"]["sums"]
