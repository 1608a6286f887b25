"""How well motion maps agree with where the synthetic data's object really is.

The synthetic generator knows each frame's object mask
(``make_clip_masks`` of ``tools/data/synthetic/synthetic_render.py``), so the motion
a model's MotionSqueeze module estimates on a clip of translating objects can
be scored: :func:`translation_agreement`. ``make demo`` uses it to check the
trained MSNet's maps.
"""
import math
from typing import Dict, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['translation_agreement']


def translation_agreement(motion: Tensor, masks: np.ndarray, direction: Sequence[float],
                          max_displacement: int, object_cover: float = 0.5,
                          near_zero: float = 0.5, margin: int = 1) -> Dict[str, float]:
    """How well motion maps of a translating object agree with where the object is.

    The maps are compared with ground-truth object masks (e.g. from the
    synthetic motion generator) pooled onto the module's grid: a cell is the
    object's in pair (t, t+1) if the object covers at least ``object_cover``
    of it in frame t, and background if the object touches neither it nor
    its neighbours within ``margin`` cells in frame t or t+1 (a feature's
    receptive field reaches past its cell).

    Args:
        motion (Tensor): ``[T, 3, h, w]`` (dx, dy, confidence), dx and dy in
            units of ``max_displacement`` cells, as :func:`motion_inputs` returns.
        masks (np.ndarray): ``[T, H, W]`` object coverage in [0, 1] per pixel;
            H and W multiples of h and w.
        direction (Sequence[float]): The object's true direction (x, y), +x
            rightwards, +y downwards; its length does not matter.
        max_displacement (int): The module's ``max_displacement``.
        object_cover (float): Coverage making a cell the object's. Defaults to 0.5.
        near_zero (float): Displacement (cells) below which a background cell
            counts as still. Defaults to 0.5.
        margin (int): Cells around the object that are neither object nor
            background. Defaults to 1.

    Returns:
        dict[str, float]: ``object_cells`` and ``background_cells`` (counted
        over the T-1 pairs); ``angle_error`` (degrees) between the object
        cells' displacement (the median of x and of y) and ``direction``;
        ``object_along``, their median displacement along ``direction`` (cells);
        ``object_aligned``, the share of them within 45 degrees of it;
        ``background_magnitude``, the background cells' mean displacement
        length (cells); ``background_still``, the share of them below
        ``near_zero``.
    """
    pairs = motion.shape[0] - 1
    grid = tuple(motion.shape[-2:])
    if masks.shape[0] < pairs + 1 or masks.shape[1] % grid[0] or masks.shape[2] % grid[1]:
        raise ValueError(f'masks {masks.shape} do not fit motion maps {tuple(motion.shape)}: '
                         'need T masks whose size is a multiple of the grid')
    # Coverage per cell: [T, H, W] -> [T, h, w]
    cover = F.adaptive_avg_pool2d(torch.as_tensor(masks[:pairs + 1], dtype=torch.float32)[None],
                                  grid)[0]
    flow = motion[:pairs, :2].float() * max_displacement  # [P, 2, h, w], cells
    unit = torch.tensor(direction, dtype=torch.float32)
    unit = unit / unit.norm()
    obj = cover[:pairs] >= object_cover  # [P, h, w]
    touched = ((cover[:pairs] > 0) | (cover[1:] > 0)).float()[:, None]
    near = F.max_pool2d(touched, 2 * margin + 1, stride=1, padding=margin)[:, 0] > 0
    background = ~near
    vectors = flow.permute(0, 2, 3, 1)  # [P, h, w, 2]
    on_object = vectors[obj]
    # Medians: a few cells of a wrong match must not swing the direction.
    median = on_object.median(0).values if len(on_object) else torch.zeros(2)
    cosine = float(median @ unit / median.norm().clamp_min(1e-9))
    lengths = on_object.norm(dim=1).clamp_min(1e-9)
    aligned = ((on_object @ unit) / lengths) >= math.cos(math.radians(45))
    still = vectors[background].norm(dim=1)
    return dict(
        object_cells=int(obj.sum()),
        background_cells=int(background.sum()),
        angle_error=math.degrees(math.acos(max(-1.0, min(1.0, cosine)))),
        object_along=float((on_object @ unit).median()) if len(on_object) else 0.0,
        object_aligned=float(aligned.float().mean()) if len(on_object) else 0.0,
        background_magnitude=float(still.mean()) if len(still) else 0.0,
        background_still=float((still < near_zero).float().mean()) if len(still) else 1.0)
