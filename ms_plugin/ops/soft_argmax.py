"""Displacement and confidence from a local correlation volume."""
from typing import Tuple

import torch

from .correlation import displacement_grid

__all__ = ['kernel_soft_argmax', 'SOFT_ARGMAX_MODES']

SOFT_ARGMAX_MODES = ('kernel', 'plain', 'hard')


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
        grid = displacement_grid(d, device=corr.device, dtype=acc) / d  # [2, K]
        confidence, best = scores.max(dim=-1, keepdim=True)  # [N, H, W, 1] each
        if mode == 'hard':
            displacement = torch.cat([grid[0][best], grid[1][best]], dim=-1)  # [N, H, W, 2]
        else:
            if mode == 'kernel':
                logits = scores * _gaussian_around(best, d, sigma, temperature, acc)
            else:
                logits = scores * temperature
            prob = torch.softmax(logits, dim=-1)  # [N, H, W, K]
            displacement = prob @ grid.t()  # [N, H, W, K] x [K, 2] -> [N, H, W, 2]
    # [N, H, W, C] -> [N, C, H, W]
    displacement = displacement.permute(0, 3, 1, 2).to(corr.dtype)
    confidence = confidence.permute(0, 3, 1, 2).to(corr.dtype)
    return displacement, confidence


def _gaussian_around(best: torch.Tensor, d: int, sigma: float, scale: float,
                     dtype: torch.dtype) -> torch.Tensor:
    """``scale * exp(-|(dx, dy) - argmax|^2 / (2 sigma^2))`` for every displacement.

    Args:
        best (Tensor): ``[N, H, W, 1]`` argmax channel per position.
        scale (float): Folded in here (the temperature) to save a pass over
            the correlation volume.

    Returns:
        Tensor: ``[N, H, W, (2d+1)**2]``, built as the outer product of two
        1-D Gaussians (the kernel is separable), so only 2(2d+1) exponentials
        are evaluated per position.
    """
    p = 2 * d + 1
    offsets = torch.arange(p, device=best.device, dtype=dtype)  # index of dx (or dy) + d
    centre_x = (best % p).to(dtype)  # [N, H, W, 1]
    centre_y = torch.div(best, p, rounding_mode='floor').to(dtype)
    gx = torch.exp((offsets - centre_x) ** 2 * (-0.5 / sigma ** 2))  # [N, H, W, P]
    gy = torch.exp((offsets - centre_y) ** 2 * (-0.5 / sigma ** 2)) * scale
    # [N, H, W, P (dy), 1] * [N, H, W, 1, P (dx)] -> [N, H, W, P*P], k = dy * P + dx
    return (gy.unsqueeze(-1) * gx.unsqueeze(-2)).flatten(-2)
