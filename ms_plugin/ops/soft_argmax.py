"""Displacement and confidence from a local correlation volume."""
import math
from typing import Tuple, Union

import torch
import torch.nn.functional as F

from .correlation import accumulation_dtype
from .tables import descending_rank, gaussian_table, recording_a_graph, unit_grid

__all__ = ['kernel_soft_argmax', 'soft_argmax_backward', 'max_and_argmax',
           'SOFT_ARGMAX_MODES']

SOFT_ARGMAX_MODES = ('kernel', 'plain', 'hard')
# Logits further than this below the best one weigh under e^-80 in the softmax.
_LOGIT_RANGE = 80.0


def max_and_argmax(scores: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``scores.max(dim=-1, keepdim=True)`` from vectorised reductions: the maximum, its index.

    ``Tensor.max`` with indices walks every row element by element on the
    CPU. Here the vectorised ``amax`` finds the maximum; ``score - max`` is 0
    exactly where a score equals it (the difference of two floats is 0 only
    when they are equal) and at least the smallest subnormal away from 0
    elsewhere. Scaled by ``2**(2m)``, large enough to take that smallest
    difference below ``-2K``, and added to a rank that is largest for the
    first channel, it leaves the ranks of the maxima and negative keys (or
    ``-inf``) elsewhere; a second ``amax`` reads the first maximum's rank
    back. Multiplications, additions and reductions only, each vectorised.
    The maximum is then gathered at that
    index, so that its gradient, like ``Tensor.max``'s, goes to that one
    score. The same values and indices as ``Tensor.max`` (ties go to the
    first index) for scores without infinities; a row holding NaN gives the
    maximum NaN and index 0. ``docs/benchmarks.md`` times both.

    While a graph is recorded (a TorchScript trace for ONNX export or FLOP
    counting, ``torch.compile``), ``Tensor.max`` itself is recorded: ONNX
    Runtime and the compilers have one fused arg-max, faster than the chain.

    Args:
        scores (Tensor): ``[..., K]`` floats; half precision is ranked in float32.

    Returns:
        tuple[Tensor, Tensor]: the maximum ``[..., 1]`` (the dtype of
        ``scores``) and its index ``[..., 1]`` (int64).
    """
    if recording_a_graph():
        return scores.max(dim=-1, keepdim=True)
    k = int(scores.shape[-1])
    plain = scores.detach()  # the index takes no gradient
    if plain.dtype not in (torch.float32, torch.float64):
        plain = plain.float()  # 2**(2m) would overflow half precision
    info = torch.finfo(plain.dtype)
    # m: (2**m)**2 * smallest subnormal >= 2K, i.e. 2m >= -log2(tiny * eps) + log2(2K).
    smallest = math.log2(info.tiny) + math.log2(info.eps)  # log2 of the smallest subnormal
    half_power = 2.0 ** math.ceil((math.log2(2 * k) - smallest) / 2)
    top = plain.amax(dim=-1, keepdim=True)  # [..., 1]
    rank = descending_rank(k, plain.dtype, plain.device)  # [K]: K for the first channel, 1 last
    # rank (>= 1) at a maximum; below -K (or -inf) elsewhere: [..., K]
    key = torch.sub(plain, top).mul_(half_power).mul_(half_power).add_(rank)
    first = key.amax(dim=-1, keepdim=True).nan_to_num_(nan=float(k))  # [..., 1]
    best = (k - first).long()
    # A row holding NaN has the maximum NaN, as with Tensor.max.
    return torch.where(top.isnan(), top.to(scores.dtype), scores.gather(-1, best)), best


def kernel_soft_argmax(corr: torch.Tensor, max_displacement: int = 7, sigma: float = 5.0,
                       temperature: float = 100.0,
                       mode: str = 'kernel') -> Tuple[torch.Tensor, torch.Tensor]:
    """Displacement per position by a (kernel-)soft-argmax over displacements.

    With ``mode='kernel'`` (the paper's), the correlation is multiplied by a
    Gaussian of std ``sigma`` centred on its argmax displacement, scaled by
    ``temperature`` and soft-maxed over the ``(2d+1)**2`` displacements; the
    displacement is the expectation of (dx, dy) under that distribution.
    ``'plain'`` skips the Gaussian and ``'hard'`` returns the argmax itself
    (not differentiable with respect to ``corr``); both are for ablations.

    Args:
        corr (Tensor): ``[N, (2d+1)**2, H, W]`` as from
            :func:`~ms_plugin.ops.local_correlation` (channel
            ``k = (dy + d) * (2d + 1) + (dx + d)``).
        max_displacement (int): ``d``. Defaults to 7.
        sigma (float): Std of the Gaussian kernel, in grid cells. Defaults to 5.0.
        temperature (float): Multiplies the logits before the softmax.
            Defaults to 100.0.
        mode (str): ``'kernel'``, ``'plain'`` or ``'hard'``. Defaults to ``'kernel'``.

    Returns:
        tuple[Tensor, Tensor]: displacement ``[N, 2, H, W]`` (channel 0 = dx,
        positive rightwards; channel 1 = dy, positive downwards), divided by
        ``d`` so it lies in ``[-1, 1]``; confidence ``[N, 1, H, W]``, the
        maximum of ``corr`` over displacements. Both in the dtype of ``corr``;
        computed in float32 at least.
    """
    if mode not in SOFT_ARGMAX_MODES:
        raise ValueError(f'mode must be one of {SOFT_ARGMAX_MODES}, got {mode!r}.')
    if mode != 'hard' and not temperature > 0:
        raise ValueError(f'temperature must be positive, got {temperature}.')
    if mode == 'kernel' and not sigma > 0:
        raise ValueError(f'sigma must be positive, got {sigma}.')
    d = max_displacement
    p2 = (2 * d + 1) ** 2
    if corr.dim() != 4 or corr.shape[1] != p2:
        raise ValueError(f'corr must be [N, (2d+1)**2 = {p2}, H, W] for max_displacement={d}; '
                         f'got {tuple(corr.shape)}.')
    if d == 0:  # one displacement only: it is zero
        zeros = corr.new_zeros((corr.shape[0], 2) + corr.shape[2:])
        return zeros, corr.clone()
    acc = accumulation_dtype(corr.dtype)
    with torch.autocast(device_type=corr.device.type, enabled=False):
        # [N, K, H, W] -> [N, H, W, K]: a free view for local_correlation's output.
        scores = corr.permute(0, 2, 3, 1).to(acc)
        # Displacements in units of d, so the expectation lands in [-1, 1].
        grid = unit_grid(d, acc, corr.device)  # [2, K]
        confidence, best = max_and_argmax(scores)  # [N, H, W, 1] each
        if mode == 'hard':
            displacement = torch.cat([grid[0][best], grid[1][best]], dim=-1)  # [N, H, W, 2]
        else:
            prob = _probabilities(scores, confidence, best, d, sigma, temperature, mode)
            displacement = prob @ grid.t()  # [N, H, W, K] x [K, 2] -> [N, H, W, 2]
    # [N, H, W, C] -> [N, C, H, W]
    displacement = displacement.permute(0, 3, 1, 2).to(corr.dtype)
    confidence = confidence.permute(0, 3, 1, 2).to(corr.dtype)
    return displacement, confidence


def _logit_factor_and_floor(scores: torch.Tensor, confidence: torch.Tensor, best: torch.Tensor,
                            d: int, sigma: float, temperature: float,
                            mode: str) -> Tuple[Union[torch.Tensor, float], torch.Tensor]:
    """The factor that makes the logits from the scores, and the floor the logits are raised to.

    Returns:
        tuple: the factor (``[N, H, W, K]`` rows of the Gaussian table times
        ``temperature`` for ``'kernel'``, the float ``temperature`` for
        ``'plain'``) and the floor ``[N, H, W, 1]``.
    """
    if mode == 'kernel':
        # Row k* of the table is the Gaussian centred on displacement k*.
        table = gaussian_table(d, sigma, temperature, scores.dtype, scores.device)  # [K, K]
        factor = F.embedding(best.squeeze(-1), table)  # [N, H, W, K]
    else:
        factor = temperature
    # The logit at the argmax is temperature * confidence (the Gaussian is 1
    # there), so the largest is at least that. Raising the logits more than
    # _LOGIT_RANGE below it to that floor changes no probability measurably,
    # and keeps them from underflowing to denormal floats, which make exp()
    # and the expectation's matrix product several times slower on CPU. The
    # floor is a constant for autograd: ReLU's and softmax's gradients are
    # unchanged.
    floor = (confidence * temperature - _LOGIT_RANGE).detach()  # [N, H, W, 1]
    return factor, floor


def _probabilities(scores: torch.Tensor, confidence: torch.Tensor, best: torch.Tensor, d: int,
                   sigma: float, temperature: float, mode: str) -> torch.Tensor:
    """The softmax over displacements, ``[N, H, W, K]``, of ``'kernel'`` or ``'plain'``."""
    factor, floor = _logit_factor_and_floor(scores, confidence, best, d, sigma, temperature, mode)
    # In place on the temporaries (autograd keeps what it needs): no new buffers.
    logits = factor.mul_(scores) if torch.is_tensor(factor) else scores * factor
    return torch.softmax(logits.clamp_(min=floor), dim=-1)  # [N, H, W, K]


def soft_argmax_backward(corr: torch.Tensor, grad_displacement: torch.Tensor,
                         grad_confidence: torch.Tensor, max_displacement: int = 7,
                         sigma: float = 5.0, temperature: float = 100.0,
                         mode: str = 'kernel') -> torch.Tensor:
    """The gradient of :func:`kernel_soft_argmax` with respect to ``corr``, from ``corr``.

    What autograd computes through :func:`kernel_soft_argmax`, written out,
    so that a caller can recompute it from ``corr`` instead of keeping the
    softmax's inputs and outputs for backward.

    Args:
        corr (Tensor): ``[N, (2d+1)**2, H, W]``, the forward's input.
        grad_displacement (Tensor): ``[N, 2, H, W]``.
        grad_confidence (Tensor): ``[N, 1, H, W]``.
        max_displacement, sigma, temperature, mode: As in the forward.

    Returns:
        Tensor: ``[N, H, W, (2d+1)**2]`` (displacements innermost, as
        :func:`~ms_plugin.ops.local_correlation` lays them out), in float32
        at least.
    """
    d = max_displacement
    acc = accumulation_dtype(corr.dtype)
    with torch.autocast(device_type=corr.device.type, enabled=False):
        scores = corr.permute(0, 2, 3, 1).to(acc)  # [N, K, H, W] -> [N, H, W, K]
        confidence, best = max_and_argmax(scores)  # [N, H, W, 1] each
        # [N, 1, H, W] -> [N, H, W, 1]
        grad_confidence = grad_confidence.permute(0, 2, 3, 1).to(acc)
        if mode == 'hard' or d == 0:  # the displacement does not depend on corr
            # max: the confidence's gradient goes to the argmax.
            return torch.zeros_like(scores).scatter_(-1, best, grad_confidence)
        factor, floor = _logit_factor_and_floor(scores, confidence, best, d, sigma,
                                                temperature, mode)
        logits = scores * factor  # [N, H, W, K]
        # clamp(min=floor) passes the gradient where logits >= floor.
        clamped = logits < floor
        prob = torch.softmax(logits.clamp_(min=floor), dim=-1)
        # expectation: [N, 2, H, W] -> [N, H, W, 2] x [2, K] -> [N, H, W, K]
        grad = grad_displacement.permute(0, 2, 3, 1).to(acc) @ unit_grid(d, acc, corr.device)
        # softmax: prob * (grad - sum(prob * grad)), then the factor, all in place.
        grad = grad.sub_((prob * grad).sum(dim=-1, keepdim=True)).mul_(prob).mul_(factor)
        # max: the confidence's gradient goes to the argmax.
        grad = torch.where(clamped, grad.new_zeros(()), grad)  # faster than masked_fill_ on CPU
        return grad.scatter_add_(-1, best, grad_confidence)
