"""A training's history, resumable: binned step means, the epoch records, and where training is.

history = {"steps": [binned points], "epochs": [epoch records], "state": {...}}: the dict a checkpoint
stores and the app's live curves read. state = {"epoch", "step", "batch" (next batch of the epoch),
"wall_time", "partial"}; "partial" holds what is half done (the epoch's running sums, the open bin and
its width), so a run resumed from a checkpoint ends with the history of an uninterrupted one.

"bound" (steps, partial sums) and "train_bound" (epochs) hold the bound the run trains on, Terms.bound: the
ELBO, or the IWAE bound when iwae_k > 1; each epoch names it in "bound_name". "test_elbo" is always the
ELBO. Histories written before this held the bound under "elbo" / "train_elbo"; upgrade_history renames.
"""
from __future__ import annotations

from ..model.objectives import bound_name

HISTORY_POINTS = 1000  # binned step points kept: checkpoints stay small, the page redraws them each second
BINNED = ("recon", "kl", "bound", "beta")  # averaged over a bin; a point's step and epoch are its last step's
CURVE_KEYS = ("epoch", "step") + BINNED
START = {"epoch": 0, "step": 0, "batch": 0, "wall_time": 0.0}


def upgrade_history(history: dict, iwae_k: int = 1) -> dict:
    """An older history with the bound under its own keys (in place): steps' and partial sums' "elbo" become
    "bound", epochs' "train_elbo" "train_bound", named by bound_name(iwae_k) (the run's train config)."""
    for point in history.get("steps", ()):
        if "elbo" in point and "bound" not in point:
            point["bound"] = point.pop("elbo")
    for e in history.get("epochs", ()):
        if "train_elbo" in e and "train_bound" not in e:
            e["train_bound"] = e.pop("train_elbo")
        if "train_bound" in e:
            e.setdefault("bound_name", bound_name(iwae_k))
    partial = (history.get("state") or {}).get("partial") or {}
    for part in ("bin", "sums"):
        d = partial.get(part)
        if d is not None and "elbo" in d and "bound" not in d:
            d["bound"] = d.pop("elbo")
        if d is not None and "bound" not in d:
            raise ValueError(f"history state partial {part} has no 'bound' (or older 'elbo')")
    return history


def open_history(history: dict | None, iwae_k: int = 1) -> dict:
    """`history` (a new one if None) with its three parts present, upgraded (upgrade_history); its state
    gains the start values it lacks."""
    h = upgrade_history(history, iwae_k) if history is not None else {}
    h.setdefault("steps", [])
    h.setdefault("epochs", [])
    state = h.setdefault("state", {})
    for k, v in START.items():
        state.setdefault(k, v)
    steps, partial = h["steps"], state.setdefault("partial", {})
    if len(steps) >= 2 and "every" not in partial:  # a history saved before bins recorded their width
        partial["every"] = max(1, int(steps[-1]["step"]) - int(steps[-2]["step"]))
    return h


def add_step(history: dict, rec: dict, max_points: int = HISTORY_POINTS) -> None:
    """Add one step record (BINNED keys, step, epoch) to the binned means.

    A bin closes after `every` steps; once max_points points exist, neighbouring pairs merge and bins
    double, so a run of any length keeps fewer than max_points whatever its planned length.
    """
    partial = history["state"].setdefault("partial", {})
    every = partial.setdefault("every", 1)
    b = partial.setdefault("bin", dict.fromkeys(BINNED + ("n",), 0.0))
    for k in BINNED:
        b[k] += float(rec[k])
    b["n"] += 1
    if b["n"] < every:
        return
    point = {k: b[k] / b["n"] for k in BINNED}
    point.update(step=rec["step"], epoch=rec["epoch"])
    del partial["bin"]
    history["steps"].append(point)
    steps = history["steps"]
    while len(steps) >= max_points:
        steps, partial["every"] = _merge_pairs(steps), partial["every"] * 2
    # merging builds a new list: a reader on another thread copies either the old or the new one whole
    history["steps"] = steps


def curves(history: dict) -> dict[str, list[float]]:
    """The binned points as columns (epoch, step, recon, kl, bound, beta), a copy: what the live plots draw."""
    points = list(history.get("steps", ()))  # one atomic copy; the trainer may append meanwhile
    return {k: [float(p[k]) for p in points] for k in CURVE_KEYS}


def _merge_pairs(points: list[dict]) -> list[dict]:
    """Neighbouring points averaged in pairs (an odd last one kept as it is)."""
    out = [{**b, **{k: (a[k] + b[k]) / 2 for k in BINNED}} for a, b in zip(points[0::2], points[1::2])]
    return out + points[len(out) * 2:]
