"""``correlation_motion(..., impl='fused')``: the matching with a written-out backward.

The same values as ``impl='strided'`` (the strided correlation, its ReLU and
the soft-argmax through autograd), as one function that keeps only its two
inputs and the arg-max for backward and recomputes the correlation there.
Its backward is two more row products of the same shape as the forward's:

- ``grad_f1[p] = sum_k G[p, k] * f2[p + o_k]``, over the target runs of ``f2``;
- ``grad_f2[q] = sum_k G[q - o_k, k] * f1[q - o_k]``: ``G`` moved to the target
  positions (a strided view of its zero-padded copy), over the runs of ``f1``.

It is written in differentiable operators, so a double backward works.
``tests/test_ops_backward.py`` checks values and gradients against ``'strided'``.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

from .correlation import _source_rows, _target_runs, _window_view

__all__ = ['fused_correlation_motion']


def _gather_windows(grad: torch.Tensor, f: torch.Tensor, d: int,
                    spread: torch.Tensor) -> torch.Tensor:
    """``out[n, :, y, x] = sum_k grad[n, y, x, k] * f[n, :, (y, x) + o_k]`` (zero outside).

    Args:
        grad (Tensor): ``[N, H, W, 2d+1, 2d+1]``.
        f (Tensor): ``[N, C, H, W]``.
        spread (Tensor): ``[N*(H+d), W, run]``, overwritten: the row product's
            buffer, zero but at the windows, which hold ``grad``.

    Returns:
        Tensor: ``[N, C, H, W]``.
    """
    n, c, h, w = f.shape
    runs = _target_runs(f, d)  # [N*(H+d), C, run]
    _window_view(spread.zero_(), n, h, w, d).copy_(grad)
    out = torch.bmm(spread, runs.transpose(1, 2))  # [N*(H+d), W, C]
    # [N*(H+d), W, C] -> [N, H+d, W, C] -> [N, H, W, C] -> [N, C, H, W]
    return out.view(n, h + d, w, c)[:, :h].permute(0, 3, 1, 2)


def _to_targets(grad: torch.Tensor, d: int) -> torch.Tensor:
    """``out[n, q, k'] = grad[n, q - o_k, k]`` with ``o_k' = -o_k`` (zero outside).

    Args:
        grad (Tensor): ``[N, H, W, 2d+1, 2d+1]``, per source position.

    Returns:
        Tensor: ``[N, H, W, 2d+1, 2d+1]``, per target position.
    """
    n, h, w, p, _ = grad.shape
    # [N, H, W, P, P] -> [N, H+2d, W+2d, P, P], a new contiguous tensor
    padded = F.pad(grad, (0, 0, 0, 0, d, d, d, d))
    s_x = p * p
    s_y = (w + 2 * d) * s_x
    # out[n, y, x, a, b] = padded[n, y + a, x + b, 2d - a, 2d - b]
    return padded.as_strided((n, h, w, p, p), ((h + 2 * d) * s_y, s_y, s_x, s_y - p, s_x - 1),
                             2 * d * p + 2 * d)


def _scores(f1: torch.Tensor, f2: torch.Tensor, d: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``relu(local_correlation(f1, f2, d))`` as ``[N, H, W, 2d+1, 2d+1]`` (contiguous).

    Also returns the row product ``[N*(H+d), W, run]`` it was read from.
    """
    n, _, h, w = f1.shape
    prod = torch.bmm(_source_rows(f1, d), _target_runs(f2, d))  # [N*(H+d), W, run]
    return torch.relu(_window_view(prod, n, h, w, d)), prod


def _weights(best: torch.Tensor, cells: torch.Tensor, sigma: float, temperature: float,
             mode: str):
    """What multiplies the scores before the softmax: the Gaussian of each arg-max, times T."""
    if mode == 'plain':
        return temperature
    dist2 = (cells.unsqueeze(1) - cells.unsqueeze(0)).square().sum(-1)  # [K, K]
    table = torch.exp(dist2 / (-2 * sigma ** 2)) * temperature  # row k*: centred on k*
    # index_select, not table[best]: several times faster on the CPU
    return table.index_select(0, best.flatten()).view(best.shape + (-1, ))  # [N, H, W, K]


class _FusedMatching(torch.autograd.Function):

    @staticmethod
    def forward(ctx, f1, f2, d, sigma, temperature, mode, cells):
        scores = _scores(f1, f2, d)[0].flatten(3)  # [N, H, W, P, P] -> [N, H, W, K]
        confidence, best = scores.max(dim=-1)  # [N, H, W] each
        ctx.save_for_backward(f1, f2, best, cells)
        ctx.args = d, sigma, temperature, mode
        if mode == 'hard' or d == 0:
            displacement = cells[best]
        else:
            prob = torch.softmax(scores * _weights(best, cells, sigma, temperature, mode), -1)
            displacement = prob @ cells  # [N, H, W, K] x [K, 2] -> [N, H, W, 2]
        # One tensor (torch 2.1's compiler takes no other): [N, H, W, 2 + 1]
        return torch.cat([displacement, confidence.unsqueeze(-1)], -1)

    @staticmethod
    def backward(ctx, grad_out):
        grad_disp, grad_conf = grad_out[..., :2], grad_out[..., 2]  # [N, H, W, 2], [N, H, W]
        f1, f2, best, cells = ctx.saved_tensors
        d, sigma, temperature, mode = ctx.args
        scores, prod = _scores(f1, f2, d)  # [N, H, W, P, P], [N*(H+d), W, run]
        n, h, w, p, _ = scores.shape
        scores = scores.view(n, h, w, p * p)  # -> [N, H, W, K]
        if mode == 'hard' or d == 0:  # the displacement takes no gradient
            grad = torch.zeros_like(scores)
        else:
            weights = _weights(best, cells, sigma, temperature, mode)
            prob = torch.softmax(scores * weights, -1)  # [N, H, W, K]
            along = prob * (grad_disp @ cells.t())  # [N, H, W, 2] x [2, K] -> [N, H, W, K]
            # the softmax's and the logits' gradients
            grad = torch.addcmul(along, prob, along.sum(-1, keepdim=True), value=-1) * weights
        grad = grad.scatter_add(-1, best.unsqueeze(-1), grad_conf.unsqueeze(-1))
        # The ReLU's gradient: none where the correlation was not positive.
        grad = torch.where(scores > 0, grad, grad.new_zeros(())).view(n, h, w, p, p)
        # The product's buffer, no longer needed, serves the first gather (no
        # new allocation); the second needs its own (double backward keeps both).
        grad_f1 = _gather_windows(grad, f2, d, prod)
        grad_f2 = _gather_windows(_to_targets(grad, d), f1, d, torch.empty_like(prod))
        return grad_f1, grad_f2, None, None, None, None, None


def fused_correlation_motion(f1: torch.Tensor, f2: torch.Tensor, d: int, sigma: float,
                             temperature: float, mode: str, cells: torch.Tensor) -> torch.Tensor:
    """Displacement (dx, dy, in grid cells) and confidence of the matching, ``[N, H, W, 3]``.

    ``f1`` and ``f2`` are ``[N, C, H, W]`` in float32 or float64, ``cells`` the
    ``[K, 2]`` (dx, dy) of each displacement; the other arguments are
    :func:`~ms_plugin.ops.correlation_motion`'s.
    """
    return _FusedMatching.apply(f1, f2, d, sigma, temperature, mode, cells)
