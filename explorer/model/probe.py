"""Whether a model's numbers can be used: a forward pass on a small probe batch and on draws from the prior
must give finite parameters for q(z|x) and p(x|z). Weights can each be finite and still overflow (1e38 times
a pixel sum is inf), so a file is judged by what it produces, not only by what it holds."""
from __future__ import annotations

import torch
from torch.distributions import Distribution

PROBE_SIZE = 4  # images: grey, black, white, uniform noise
_PARAMS = ("loc", "scale", "logits", "probs")  # what torch's Normal and Bernoulli store (PointMass: loc)


def parameters_of(d: Distribution) -> dict[str, torch.Tensor]:
    """The tensors that define d, through Independent (and Dequantized) wrappers: loc/scale, logits/probs."""
    while hasattr(d, "base_dist"):
        d = d.base_dist
    return {k: v for k, v in vars(d).items() if k in _PARAMS and torch.is_tensor(v)}


def probe_images(image_shape, n: int = PROBE_SIZE) -> torch.Tensor:
    """(n, C, H, W) images in [0, 1]: grey, black, white, then seeded uniform noise."""
    shape = tuple(int(s) for s in image_shape)
    fixed = [torch.full(shape, v) for v in (0.5, 0.0, 1.0)][:n]
    noise = torch.rand(max(0, n - len(fixed)), *shape, generator=torch.Generator().manual_seed(0))
    return torch.cat([torch.stack(fixed), noise]) if fixed else noise


def _bad(d: Distribution, what: str) -> str | None:
    for k, v in parameters_of(d).items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            return f"{what}'s {k}"
    return None


@torch.no_grad()
def non_finite(model, image_shape) -> str | None:
    """None when the probe gives finite numbers everywhere; else what went non-finite, in a few words
    ("p(x|z)'s logits from prior draws"). model has encode, decode and prior (any explorer model)."""
    x = probe_images(image_shape).to(model.prior.mean.device)
    bad = _bad(model.prior, "the prior p(z)")
    if bad:
        return bad
    q = model.encode(x)
    bad = _bad(q, "q(z|x)")
    if bad:
        return f"{bad} on a probe batch"
    bad = _bad(model.decode(q.mean), "p(x|z)")
    if bad:
        return f"{bad} at the probe batch's codes"
    z = _prior_draws(model.prior)
    bad = _bad(model.decode(z), "p(x|z)")
    return f"{bad} from prior draws" if bad else None


def _prior_draws(prior: Distribution) -> torch.Tensor:
    """Seeded draws, so loading a file does not move the caller's random stream."""
    mean, std = prior.mean, prior.stddev
    eps = torch.randn(PROBE_SIZE, *mean.shape, generator=torch.Generator().manual_seed(0)).to(mean.device)
    return mean + std * eps


def require_finite(a, what: str, of: str = "images", then: str = "") -> None:
    """A ValueError in one line when any row of a (N, ...) array or tensor holds a non-finite number: a model
    the probe passed can still overflow on other inputs, and a NaN would be printed or drawn as if it meant
    something. then: what is not done because of it (", so no codes file is written")."""
    t = torch.as_tensor(a)
    if not t.is_floating_point() or not len(t):
        return
    bad = int((~torch.isfinite(t.reshape(len(t), -1))).any(1).sum())
    if bad:
        raise ValueError(f"the model gives non-finite {what} for {bad:,} of these {len(t):,} {of}: its numbers "
                         f"are unusable here{then}")
