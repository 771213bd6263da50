"""Fast log p(x|z) for the MLP decoder with Bernoulli pixels, the hot loop of log-likelihood evaluation.

Same numbers as model.decode(z).log_prob(x) (up to float32 rounding; tested), with fewer passes over the
(rows, pixels) logits l:

    x l - softplus(l) = (x - 1/2) l - |l|/2 + log sigmoid(|l|)

* sum_j (x_j - 1/2) l_j = h . (W^T (x - 1/2)) + b . (x - 1/2): one (hidden,) vector per example, so the
  (rows, pixels) product with x is never formed;
* sum_j log sigmoid(|l_j|) = sum_groups log prod_j sigmoid(|l_j|): each factor is in [1/2, 1), so a product
  of 16 cannot underflow, and one log replaces 16;
* tanh(a) = 2 sigmoid(2a) - 1 is folded into the weights, so each hidden layer is one GEMM and one in-place
  sigmoid (cheaper than tanh on CPU).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

FOLDS = 4  # products of 2**4 = 16 sigmoids >= 2**-16


class BernoulliMLP:
    """Weights of a LatentModel's MLP decoder, rewritten for fast log p(x|z)."""

    def __init__(self, layers: list[tuple[Tensor, Tensor, str | nn.Module]], last: tuple[Tensor, Tensor]):
        self.layers = layers  # (W^T (in, out), b, activation): "sigmoid", "relu" or a module
        self.w_t, self.b = last  # (hidden, pixels), (pixels,)

    def prepare(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-example (v, c) with sum_j (x_j - 1/2) l_j = h . v + c, for x of shape (n, C, H, W)."""
        xc = x.reshape(len(x), -1).to(self.b.dtype) - 0.5
        return xc @ self.w_t.T, xc @ self.b

    def log_prob(self, z: Tensor, ctx: tuple[Tensor, Tensor]) -> Tensor:
        """log p(x_i|z_is) of shape (n, s) for example-major z of shape (n, s, D), ctx = prepare(x)."""
        n, s, d = z.shape
        h = z.reshape(n * s, d)
        for w_t, b, act in self.layers:
            h = torch.addmm(b, h, w_t)
            if act == "sigmoid":
                torch.sigmoid(h, out=h)
            elif act == "relu":
                h.clamp_min_(0)
            else:
                h = act(h)
        logits = torch.addmm(self.b, h, self.w_t)  # (rows, pixels)
        v, c = ctx
        lin = (h.view(n, s, -1) * v[:, None]).sum(-1) + c[:, None]  # sum_j (x_j - 1/2) l_j (bmm is slower)
        logits.abs_()
        half_abs = logits.sum(-1).view(n, s) * 0.5
        torch.sigmoid(logits, out=logits)  # sigmoid(|l|) in [1/2, 1)
        p = logits
        for _ in range(FOLDS):
            if p.shape[1] % 2:
                break
            p = p[:, : p.shape[1] // 2] * p[:, p.shape[1] // 2:]
        log_sig = p.log_().sum(-1).view(n, s)
        return lin - half_abs + log_sig


def for_model(model) -> BernoulliMLP | None:
    """The fast path when model is an unmodified LatentModel with MLP decoder and Bernoulli pixels."""
    from ..model.latent_model import LatentModel
    from ..model.nets import MLPDecoder

    if not (isinstance(model, LatentModel) and type(model).decode is LatentModel.decode
            and model.config.likelihood == "bernoulli" and isinstance(model.decoder, MLPDecoder)
            and type(model.decoder).forward is MLPDecoder.forward):
        return None
    mods = list(model.decoder.net)
    linears = mods[0::2]
    acts = mods[1::2]
    if not all(isinstance(m, nn.Linear) for m in linears) or len(acts) != len(linears) - 1:
        return None
    layers = []
    scale, shift = 1.0, 0.0  # the stored hidden u relates to the true hidden h by h = scale * u + shift
    with torch.no_grad():
        for lin, act in zip(linears[:-1], acts):
            w, b = _fold(lin, scale, shift)
            if isinstance(act, nn.Tanh):  # tanh(a) = 2 sigmoid(2a) - 1
                layers.append(((2 * w).T.contiguous(), 2 * b, "sigmoid"))
                scale, shift = 2.0, -1.0
            else:
                layers.append((w.T.contiguous(), b, "relu" if isinstance(act, nn.ReLU) else act))
                scale, shift = 1.0, 0.0
        w, b = _fold(linears[-1], scale, shift)
    return BernoulliMLP(layers, (w.T.contiguous(), b.contiguous()))


def _fold(lin: nn.Linear, scale: float, shift: float) -> tuple[Tensor, Tensor]:
    """W (scale u + shift) + b = (scale W) u + (b + shift W 1)."""
    w = lin.weight.detach()
    b = lin.bias.detach() if lin.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
    return scale * w, b + shift * w.sum(1)
