"""Optical-flow colours of MotionSqueeze displacement maps, at the frames' size.

Conventions, the same as :func:`ms_plugin.models.capture_motion`: motion is
``[T, 3, h, w]`` holding (dx, dy, confidence) on the module's feature grid;
dx and dy are in [-1, 1] in units of ``max_displacement`` cells, +x is
rightwards and +y downwards; confidence is in [0, 1]. Map t belongs to the
pair (t, t+1); a module gives T maps for T frames, the last being a copy of
map T-2 (frame T-1 has no successor), so it is not drawn.

The displacement is multiplied by ``max_displacement`` (so 1 = one feature-grid
cell) and the colours are normalised once over the whole clip (full
saturation = the largest displacement in the clip, or ``max_magnitude`` when
given), so colours can be compared across columns and animation frames.
"""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.utils import flow_to_image

__all__ = ['colour_wheel', 'flow_colors', 'motion_frames', 'pair_count']


def flow_colors(flow: Tensor, max_magnitude: Optional[float] = None) -> Tuple[np.ndarray, float]:
    """Optical-flow colours of displacements, normalised once over all maps.

    Args:
        flow (Tensor): ``[P, 2, h, w]`` displacement (x, y) in any unit.
        max_magnitude (float, optional): Magnitude drawn at full saturation;
            larger ones are clipped to it. Defaults to None (the largest
            magnitude in ``flow``).

    Returns:
        tuple: ``uint8 [P, h, w, 3]`` colours and the magnitude used.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f'flow must be [P, 2, h, w], got shape {tuple(flow.shape)}')
    flow = flow.detach().float().cpu()
    norm = flow.norm(dim=1, keepdim=True)
    if max_magnitude is None:
        max_magnitude = float(norm.max())
    elif max_magnitude <= 0:
        raise ValueError(f'max_magnitude must be positive, got {max_magnitude}')
    else:
        flow = flow * (max_magnitude / norm.clamp(min=max_magnitude))
    # flow_to_image normalises by the largest vector of the whole batch; one
    # extra column holding a vector of exactly max_magnitude pins that scale.
    reference = torch.zeros(flow.shape[0], 2, flow.shape[2], 1)
    reference[:, 0] = max_magnitude
    # [P, 2, h, w] -> [P, 2, h, w+1] -> colours [P, 3, h, w]
    rgb = flow_to_image(torch.cat([flow, reference], dim=3))[..., :-1]
    # [P, 3, h, w] -> [P, h, w, 3]
    return rgb.permute(0, 2, 3, 1).numpy(), max_magnitude


def pair_count(frames: np.ndarray, motion: Tensor) -> int:
    """Number of frame pairs, checking the shapes of frames and motion."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f'frames must be [T, H, W, 3] RGB, got shape {frames.shape}')
    if motion.dim() != 4 or motion.shape[1] != 3:
        raise ValueError(f'motion must be [T, 3, h, w] (dx, dy, confidence), got shape '
                         f'{tuple(motion.shape)}')
    num_frames = frames.shape[0]
    if num_frames < 2:
        raise ValueError('motion needs at least two frames; got one')
    if motion.shape[0] not in (num_frames, num_frames - 1):
        raise ValueError(f'{num_frames} frames need {num_frames - 1} or {num_frames} motion maps '
                         f'(one per pair, the module adds a copy for the last frame); got '
                         f'{motion.shape[0]}')
    return num_frames - 1


def motion_frames(frames: np.ndarray,
                  motion: Tensor,
                  max_displacement: int = 7,
                  max_magnitude: Optional[float] = None,
                  interpolation: str = 'nearest') -> Tuple[np.ndarray, np.ndarray, float]:
    """Displacement colours and confidence at the frames' size, one per pair.

    Args:
        frames (np.ndarray): ``[T, H, W, 3]`` RGB frames.
        motion (Tensor): ``[T, 3, h, w]`` or ``[T-1, 3, h, w]`` (dx, dy,
            confidence), dx and dy in units of ``max_displacement`` cells.
        max_displacement (int): The module's maximum displacement, in cells.
            Defaults to 7.
        max_magnitude (float, optional): Displacement (in cells) drawn at full
            saturation. Defaults to None (the largest one of the clip).
        interpolation (str): ``'nearest'`` or ``'bilinear'`` upsampling of the
            maps. Defaults to 'nearest'.

    Returns:
        tuple: colours ``uint8 [T-1, H, W, 3]``, confidence ``[T-1, H, W]``
        and the magnitude (cells) drawn at full saturation.
    """
    pairs = pair_count(frames, motion)
    height, width = frames.shape[1:3]
    kwargs = {} if interpolation == 'nearest' else dict(align_corners=False)
    maps = F.interpolate(motion[:pairs].detach().float().cpu(), size=(height, width),
                         mode=interpolation, **kwargs)
    colours, max_magnitude = flow_colors(maps[:, :2] * max_displacement, max_magnitude)
    return colours, maps[:, 2].numpy(), max_magnitude


def colour_wheel(size: int = 101) -> np.ndarray:
    """RGBA colour wheel of unit radius, +x right, +y down (image rows)."""
    axis = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing='ij')
    inside = (x ** 2 + y ** 2) <= 1
    # [size, size] x 2 -> [2, size, size], zero outside the disc
    flow = torch.stack([x, y]) * inside
    rgb = flow_to_image(flow).permute(1, 2, 0).numpy()
    alpha = (inside.numpy() * 255).astype(np.uint8)[..., None]
    return np.concatenate([rgb, alpha], axis=-1)
