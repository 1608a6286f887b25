"""Displacement and confidence from a local correlation volume."""
from typing import Tuple

import torch

from .correlation import CORRELATION_IMPLS, _check_pair, accumulation_dtype, local_correlation
from .fused_matching import fused_correlation_motion

__all__ = ['displacement_grid', 'kernel_soft_argmax', 'correlation_motion', 'SOFT_ARGMAX_MODES',
           'MATCHING_IMPLS']

SOFT_ARGMAX_MODES = ('kernel', 'plain', 'hard')
# How correlation_motion computes the same values: 'fused' (one function with
# a written-out backward), or a correlation of CORRELATION_IMPLS through autograd.
MATCHING_IMPLS = ('fused', ) + CORRELATION_IMPLS


def displacement_grid(max_displacement: int, device=None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(dx, dy) of every correlation channel, in feature-grid cells.

    Returns:
        Tensor: ``[2, (2d+1)**2]``; row 0 is dx, row 1 is dy, and channel
        ``k = (dy + d) * (2d + 1) + (dx + d)`` (dy is the outer index).
    """
    d = max_displacement
    offsets = torch.arange(-d, d + 1, device=device, dtype=dtype)
    dy, dx = torch.meshgrid(offsets, offsets, indexing='ij')
    return torch.stack([dx.reshape(-1), dy.reshape(-1)])


def _check(d: int, sigma: float, temperature: float, mode: str) -> None:
    if mode not in SOFT_ARGMAX_MODES:
        raise ValueError(f'mode must be one of {SOFT_ARGMAX_MODES}, got {mode!r}.')
    if mode != 'hard' and not temperature > 0:
        raise ValueError(f'temperature must be positive, got {temperature}.')
    if mode == 'kernel' and not sigma > 0:
        raise ValueError(f'sigma must be positive, got {sigma}.')


def _check_corr(corr: torch.Tensor, d: int) -> None:
    p2 = (2 * d + 1) ** 2
    if corr.dim() != 4 or corr.shape[1] != p2:
        raise ValueError(f'corr must be [N, (2d+1)**2 = {p2}, H, W] for max_displacement={d}; '
                         f'got {tuple(corr.shape)}.')


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
    d = max_displacement
    _check(d, sigma, temperature, mode)
    _check_corr(corr, d)
    if d == 0:  # one displacement only: it is zero
        return corr.new_zeros((corr.shape[0], 2) + corr.shape[2:]), corr.clone()
    acc = accumulation_dtype(corr.dtype)
    with torch.autocast(device_type=corr.device.type, enabled=False):
        scores = corr.permute(0, 2, 3, 1).to(acc)  # [N, K, H, W] -> [N, H, W, K]
        cells = displacement_grid(d, corr.device, acc).t()  # [K, 2]: (dx, dy)
        confidence, best = scores.max(dim=-1)  # [N, H, W] each
        if mode == 'hard':
            displacement = cells[best]  # [N, H, W, 2]
        else:
            logits = scores * temperature
            if mode == 'kernel':
                # Row k* of the table: the Gaussian centred on displacement k*.
                dist2 = (cells.unsqueeze(1) - cells.unsqueeze(0)).square().sum(-1)  # [K, K]
                table = torch.exp(dist2 / (-2 * sigma ** 2))
                # index_select, not table[best]: several times faster on the CPU
                logits = logits * table.index_select(0, best.flatten()).view(best.shape + (-1, ))
            prob = torch.softmax(logits, dim=-1)  # [N, H, W, K]
            displacement = prob @ cells  # [N, H, W, K] x [K, 2] -> [N, H, W, 2]
    # [N, H, W, 2] -> [N, 2, H, W]; units of d: in [-1, 1]
    displacement = (displacement / d).permute(0, 3, 1, 2).to(corr.dtype)
    return displacement, confidence.unsqueeze(1).to(corr.dtype)  # [N, H, W] -> [N, 1, H, W]


def correlation_motion(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                       sigma: float = 5.0, temperature: float = 100.0, mode: str = 'kernel',
                       impl: str = 'fused') -> torch.Tensor:
    """``kernel_soft_argmax(local_correlation(f1, f2).relu())`` as one ``[N, 3, H, W]`` map.

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]`` (L2-normalised by the caller).
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``. Defaults to 7.
        sigma (float): Std of the Gaussian, in grid cells. Defaults to 5.0.
        temperature (float): Multiplies the logits. Defaults to 100.0.
        mode (str): As in :func:`kernel_soft_argmax`. Defaults to ``'kernel'``.
        impl (str): ``'fused'``: the ``'strided'`` correlation, ReLU and
            soft-argmax as one function that keeps only ``f1``, ``f2`` and
            the arg-max for its written-out backward
            (:mod:`~ms_plugin.ops.fused_matching`); or ``'strided'`` /
            ``'allpairs'``: :func:`~ms_plugin.ops.local_correlation`'s
            implementation, then the soft-argmax, through autograd. The same
            values and gradients up to float rounding. Defaults to ``'fused'``.

    Returns:
        Tensor: ``[N, 3, H, W]`` in the dtype of ``f1``: dx, dy (in units of
        ``d``) and the confidence.
    """
    if impl != 'fused':
        corr = local_correlation(f1, f2, max_displacement, impl).relu()  # [N, K, H, W]
        displacement, confidence = kernel_soft_argmax(corr, max_displacement, sigma,
                                                      temperature, mode)
        return torch.cat([displacement, confidence], dim=1)  # [N, 2 + 1, H, W]
    d = max_displacement
    _check_pair(f1, f2, d)
    _check(d, sigma, temperature, mode)
    acc = accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        cells = displacement_grid(d, f1.device, acc).t()  # [K, 2]: (dx, dy)
        motion = fused_correlation_motion(f1.to(acc), f2.to(acc), d, sigma, temperature, mode,
                                          cells)  # [N, H, W, 3]
        # dx, dy in units of d (in [-1, 1]); [N, H, W, 3] -> [N, 3, H, W]
        motion = motion * motion.new_tensor([1 / max(d, 1), 1 / max(d, 1), 1])
    return motion.permute(0, 3, 1, 2).to(f1.dtype)
