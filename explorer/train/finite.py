"""Finiteness guards: no non-finite loss, gradient or weight reaches the model; it keeps its last good weights."""
from __future__ import annotations

import math

import torch

_ADVICE = "weights kept from the last good step. Try a lower learning rate."


class TrainingDiverged(RuntimeError):
    """The loss or gradients became non-finite; the model holds the last good weights."""


def all_finite(tensors: list[torch.Tensor]) -> bool:
    """True when every element is finite. A sum is finite only if every term is (a false alarm needs
    values near 3e38 anyway); one reduction per tensor and one sync, no copies."""
    if not tensors:
        return True
    return math.isfinite(torch.stack([t.sum() for t in tensors]).sum().item())  # the float, not a tensor op


def diverged(what: str, step: int, epoch: int) -> TrainingDiverged:
    """The error for `what` going wrong during 0-based `step` of 0-based `epoch`."""
    return TrainingDiverged(f"{what} at step {step + 1} (epoch {epoch + 1}); {_ADVICE}")


def check_loss(bad_loss: float | None, step: int, epoch: int) -> None:
    """Raise before backward when the loss (as every rank agreed on it) is non-finite."""
    if bad_loss is not None:
        raise diverged(f"loss became {bad_loss}", step, epoch)


class FiniteSteps:
    """Optimiser steps that never leave a non-finite gradient or weight behind."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self._last_good: list[torch.Tensor] | None = None  # the weights before the current step

    def step(self, params: list[torch.Tensor], step: int, epoch: int) -> None:
        """optimizer.step() after backward; refused on non-finite gradients, undone if it made a weight
        non-finite (an overflow despite finite gradients)."""
        if not all_finite([p.grad for p in params if p.grad is not None]):
            self.optimizer.zero_grad(set_to_none=True)
            raise diverged("gradients became non-finite", step, epoch)
        with torch.no_grad():
            # One copy into buffers kept across steps: fresh clones cost an allocation per tensor.
            if self._last_good is None or len(self._last_good) != len(params):
                self._last_good = [torch.empty_like(p) for p in params]
            torch._foreach_copy_(self._last_good, [p.detach() for p in params])
            self.optimizer.step()
            if not all_finite(params):
                torch._foreach_copy_(params, self._last_good)
                self.optimizer.zero_grad(set_to_none=True)
                raise diverged("weights became non-finite", step, epoch)
