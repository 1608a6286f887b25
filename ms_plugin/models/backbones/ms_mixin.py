"""What every backbone with MotionSqueeze modules shares: checks, building, init, norms."""
from typing import Dict, List, Sequence, Tuple

import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

__all__ = ['MotionSqueezeMixin', 'check_stage_indices']

# Arguments of MotionSqueeze that a backbone sets itself, per stage.
STAGE_ARGS = ('in_channels', 'num_segments')


def check_stage_indices(stages: Sequence[int], num_stages: int,
                        what: str = 'ms_stages') -> Tuple[int, ...]:
    """Sorted stage indices in ``[0, num_stages)``; negative ones count from the end.

    Raises:
        ValueError: For an index out of range, not an int, or given twice.
    """
    resolved = []
    for stage in stages:
        if not isinstance(stage, int) or not -num_stages <= stage < num_stages:
            raise ValueError(
                f'{what}={tuple(stages)} is out of range: the backbone has {num_stages} stages '
                f'(indices 0..{num_stages - 1}, or negative from the end).')
        resolved.append(stage % num_stages)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f'{what} has a stage twice: {tuple(stages)}.')
    return tuple(sorted(resolved))


class MotionSqueezeMixin:
    """Adds MotionSqueeze modules to an ``nn.Module`` backbone as named attributes.

    The modules are attributes of the backbone (not wrappers around its
    layers), so the backbone's own checkpoint keys keep their names and a
    stock checkpoint loads with only the MS keys missing. Subclasses call
    :meth:`add_ms_module` per stage and decide where in their forward each
    module runs.
    """

    def add_ms_module(self, name: str, in_channels: int, num_segments: int,
                      ms_cfg: Dict, **defaults) -> nn.Module:
        """Build ``ms_cfg`` (``type`` defaults to ``'MotionSqueeze'``) as attribute ``name``.

        Args:
            name (str): Attribute name, e.g. ``'ms_layer2'``.
            in_channels (int): Channels of the stage it follows.
            num_segments (int): Frames per clip at that stage.
            ms_cfg (dict): The user's extra arguments; must not set
                ``in_channels`` or ``num_segments``.
            **defaults: Arguments that ``ms_cfg`` may override (e.g. the
                backbone's ``norm_cfg``).
        """
        fixed = [key for key in STAGE_ARGS if key in ms_cfg]
        if fixed:
            raise ValueError(
                f'ms_cfg must not set {fixed}: the backbone derives them for each stage '
                "(the stage's channels, the backbone's num_segments). Remove them from "
                'ms_cfg; set num_segments on the backbone instead.')
        cfg = dict(type='MotionSqueeze', **defaults)
        cfg.update(ms_cfg)
        cfg.update(in_channels=in_channels, num_segments=num_segments)
        module = MODELS.build(cfg)
        self.add_module(name, module)
        self._ms_names = getattr(self, '_ms_names', []) + [name]
        return module

    def ms_modules(self) -> List[Tuple[str, nn.Module]]:
        """``(name, module)`` of each MS module, in the order they were added."""
        return [(name, getattr(self, name)) for name in getattr(self, '_ms_names', [])]

    def init_ms_weights(self) -> None:
        """Each MS module's own init (Kaiming convs, unit norms)."""
        for _, module in self.ms_modules():
            if hasattr(module, 'init_weights'):
                module.init_weights()

    def set_ms_norms_mode(self, mode: bool, norm_eval: bool) -> None:
        """The MS modules' BatchNorms follow ``norm_eval`` only.

        Their statistics are new, so whatever freezes a backbone's pretrained
        norms (``partial_bn``, ``frozen_stages``) must not freeze them; with
        ``norm_eval`` they are kept in eval like every other norm.
        """
        for _, module in self.ms_modules():
            for m in module.modules():
                if isinstance(m, _BatchNorm):
                    m.train(mode and not norm_eval)
                    for param in m.parameters():
                        param.requires_grad = True
