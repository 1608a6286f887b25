"""TSM's temporal shift added to the residual blocks of any timm CNN."""
import functools
import re
from typing import List, Optional, Tuple

import torch.nn as nn

from ...ops.temporal_shift import temporal_shift
from .forward_wraps import run_before_forward

__all__ = ['add_temporal_shift', 'find_blocks']


def _block_patterns(model: nn.Module) -> List[str]:
    """The regexes timm uses to name the residual blocks of ``model``.

    ``group_matcher(coarse=False)['blocks']`` is a regex, or a list of
    ``(regex, suffix)``; entries with a suffix are extra groups (downsample
    layers, head convs), not blocks.
    """
    matcher = model.group_matcher(coarse=False).get('blocks', [])
    if isinstance(matcher, str):
        return [matcher]
    return [pattern for pattern, suffix in matcher if suffix is None]


def find_blocks(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The outermost modules whose names match timm's block regexes.

    Args:
        model (nn.Module): A timm model with ``group_matcher``.

    Returns:
        list[tuple[str, nn.Module]]: ``(name, block)`` in registration order.
    """
    patterns = [re.compile(p) for p in _block_patterns(model)]
    blocks: List[Tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if not name or not any(p.match(name) for p in patterns):
            continue
        if blocks and name.startswith(blocks[-1][0] + '.'):
            continue  # inside a block already found
        blocks.append((name, module))
    return blocks


def _first_conv(block: nn.Module) -> Optional[nn.Conv2d]:
    return next((m for m in block.modules() if isinstance(m, nn.Conv2d)), None)


def add_temporal_shift(model: nn.Module, model_name: str, num_segments: int,
                       shift_div: int) -> List[str]:
    """Shift the input of the first conv of every block of a timm model.

    The residual branch is shifted (MMAction2's ``shift_place='blockres'``):
    1/``shift_div`` of the channels move one frame each way, zero-padded; the
    stem is not a block and is not shifted.

    Args:
        model (nn.Module): A timm model with ``group_matcher``.
        model_name (str): Its timm name, for the error messages.
        num_segments (int): Frames T per clip.
        shift_div (int): 1/shift_div of the channels move each way.

    Returns:
        list[str]: Names of the shifted blocks.

    Raises:
        ValueError: If timm names no blocks, or none holds a convolution.
    """
    if not hasattr(model, 'group_matcher'):
        raise ValueError(f'timm model {model_name!r} has no group_matcher to name its '
                         'blocks; pass shift=False.')
    names = []
    shift = functools.partial(temporal_shift, num_segments=num_segments, shift_div=shift_div)
    for name, block in find_blocks(model):
        conv = _first_conv(block)
        if conv is not None:
            run_before_forward(conv, shift)  # not a hook: torch.compile 2.1 skips those
            names.append(name)
    if not names:
        raise ValueError(f'Found no blocks with a convolution in {model_name!r} to '
                         'shift; pass shift=False.')
    return names
