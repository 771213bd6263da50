"""Finiteness guards: no non-finite loss, gradient or weight reaches the model; it keeps its last good weights."""
from __future__ import annotations

import math

import torch

_ADVICE = "weights kept from the last good step. Try a lower learning rate."
_ALIGN = 16  # elements: each weight starts on a 64-byte boundary of the flat buffer, as its own allocation would


class TrainingDiverged(RuntimeError):
    """The loss or gradients became non-finite; the model holds the last good weights."""


def all_finite(tensors: list[torch.Tensor]) -> bool:
    """True when every element is finite. A sum is finite only if every term is (a false alarm needs
    values near 3e38 anyway); one reduction per tensor and one sync, no copies."""
    if not tensors:
        return True
    if len(tensors) == 1:
        return math.isfinite(tensors[0].sum().item())
    return math.isfinite(torch.stack([t.sum() for t in tensors]).sum().item())  # the float, not a tensor op


def diverged(what: str, step: int, epoch: int) -> TrainingDiverged:
    """The error for `what` going wrong during 0-based `step` of 0-based `epoch`."""
    return TrainingDiverged(f"{what} at step {step + 1} (epoch {epoch + 1}); {_ADVICE}")


def check_loss(bad_loss: float | None, step: int, epoch: int) -> None:
    """Raise before backward when the loss (as every rank agreed on it) is non-finite."""
    if bad_loss is not None:
        raise diverged(f"loss became {bad_loss}", step, epoch)


@torch.no_grad()
def flatten_(params: list[torch.Tensor]) -> torch.Tensor | None:
    """Make the weights views into one new flat buffer (values unchanged) and return it; None when they
    differ in device or dtype. The guard then copies and checks all weights in one op each instead of
    one per tensor. Views keep the tensors' shapes and strides: the model, its optimizer, state_dict,
    safetensors and DDP see the same weights."""
    if not params or len({(p.device, p.dtype) for p in params}) > 1:
        return None
    sizes = [-(-p.numel() // _ALIGN) * _ALIGN for p in params]
    flat = params[0].new_zeros(sum(sizes))  # the padding stays 0: finite, never read by the model
    offset = 0
    for p, size in zip(params, sizes):
        view = flat[offset:offset + p.numel()].view(p.shape)
        view.copy_(p)
        p.data = view  # the same Parameter object: optimizer state and hooks stay attached
        offset += size
    return flat


class FiniteSteps:
    """Optimiser steps that never leave a non-finite gradient or weight behind."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self._flat: torch.Tensor | None = None  # the buffer the weights are views of (flatten_)
        self._ptrs: list[int] | None = None  # where each weight lived when flattened: a moved one shows here
        self._last_good: torch.Tensor | list[torch.Tensor] | None = None  # the weights before the current step

    def flatten(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """params, put in one flat buffer unless they are there already: by the trainer before DDP wraps
        the model, by step() if they were moved since (e.g. by model.to())."""
        if [p.data_ptr() for p in params] == self._ptrs:
            return params
        self._flat = flatten_(params)
        self._ptrs = [p.data_ptr() for p in params]  # views of _flat, or (None) the weights as they are
        self._last_good = None
        return params

    def step(self, params: list[torch.Tensor], step: int, epoch: int) -> None:
        """optimizer.step() after backward; refused on non-finite gradients, undone if it made a weight
        non-finite (an overflow despite finite gradients)."""
        if not all_finite([p.grad for p in params if p.grad is not None]):
            self.optimizer.zero_grad(set_to_none=True)
            raise diverged("gradients became non-finite", step, epoch)
        self.flatten(params)
        # Flat: the weights, the copy and its check are one tensor each; else one per weight.
        weights = [self._flat] if self._flat is not None else params
        with torch.no_grad():
            # One copy into buffers kept across steps: fresh clones cost an allocation per step.
            if self._last_good is None:
                self._last_good = [torch.empty_like(w) for w in weights]
            torch._foreach_copy_(self._last_good, weights)
            self.optimizer.step()
            if not all_finite(weights):
                torch._foreach_copy_(weights, self._last_good)
                self.optimizer.zero_grad(set_to_none=True)
                raise diverged("weights became non-finite", step, epoch)
