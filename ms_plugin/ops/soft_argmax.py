"""Displacement and confidence from a local correlation volume."""
from typing import Tuple

import torch
import torch.nn.functional as F

from ._cache import cached_constant
from .correlation import displacement_grid

__all__ = ['kernel_soft_argmax', 'SOFT_ARGMAX_MODES']

SOFT_ARGMAX_MODES = ('kernel', 'plain', 'hard')
_LOGIT_RANGE = 80.0  # e^-80 is still a normal float32


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
    acc = torch.promote_types(corr.dtype, torch.float32)
    with torch.autocast(device_type=corr.device.type, enabled=False):
        # [N, K, H, W] -> [N, H, W, K]: a free view for local_correlation's output.
        scores = corr.permute(0, 2, 3, 1).to(acc)
        # Displacements in units of d, so the expectation lands in [-1, 1].
        grid = _unit_grid(d, acc, corr.device)  # [2, K]
        confidence, best = scores.max(dim=-1, keepdim=True)  # [N, H, W, 1] each
        if mode == 'hard':
            displacement = torch.cat([grid[0][best], grid[1][best]], dim=-1)  # [N, H, W, 2]
        else:
            track = torch.is_grad_enabled() and scores.requires_grad
            if mode == 'kernel':
                # Row k* of the table is the Gaussian centred on displacement k*.
                table = _gaussian_table(d, sigma, acc, corr.device) * temperature  # [K, K]
                weights = F.embedding(best.flatten(), table).view_as(scores)  # [N, H, W, K]
                # Without autograd, into the fresh weights rather than a new map.
                logits = scores * weights if track else weights.mul_(scores)
            else:
                logits = scores * temperature
            if not track:
                # The largest logit is at least temperature * confidence (the
                # logit at k*, where the Gaussian is 1). Logits more than
                # _LOGIT_RANGE below it weigh less than e^-80 against it in the
                # softmax; raising them to that floor changes nothing measurable
                # and keeps exp() out of its slow path for very negative inputs
                # on CPU. Not done under autograd, where the floor's backward
                # costs more than it saves.
                logits = logits.clamp_(min=confidence * temperature - _LOGIT_RANGE)
            prob = torch.softmax(logits, dim=-1)  # [N, H, W, K]
            displacement = prob @ grid.t()  # [N, H, W, K] x [K, 2] -> [N, H, W, 2]
    # [N, H, W, C] -> [N, C, H, W]
    displacement = displacement.permute(0, 3, 1, 2).to(corr.dtype)
    confidence = confidence.permute(0, 3, 1, 2).to(corr.dtype)
    return displacement, confidence


@cached_constant
def _gaussian_table(d: int, sigma: float, dtype: torch.dtype,
                    device: torch.device) -> torch.Tensor:
    """``exp(-|k - k*|^2 / (2 sigma^2))`` for every centre k* (row) and displacement k.

    Returns:
        Tensor: ``[(2d+1)**2, (2d+1)**2]``. The kernel is separable, so the
        table is the Kronecker product of the 1-D one with itself (rows and
        columns ordered as the correlation channels, dy outer).
    """
    offsets = torch.arange(2 * d + 1, device=device, dtype=dtype)
    gauss_1d = torch.exp(-(offsets.view(-1, 1) - offsets.view(1, -1)) ** 2 / (2 * sigma ** 2))
    return torch.kron(gauss_1d, gauss_1d)


@cached_constant
def _unit_grid(d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`displacement_grid` in units of ``d``, so expectations land in ``[-1, 1]``."""
    return displacement_grid(d, device=device, dtype=dtype) / d
