"""What every backbone with MotionSqueeze modules shares: checks, building,
running on 2D or 3D features, init, norms."""
import contextlib
from typing import Dict, Iterator, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmaction.registry import MODELS
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

__all__ = ['MotionSqueezeMixin', 'check_stage_indices', 'motion_squeeze_clips']

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


def motion_squeeze_clips(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a MotionSqueeze module on the features of a 3D CNN.

    The module correlates frame t with frame t+1 of each clip, so the clips'
    time axis becomes its clip-major batch of frames and back again.

    Args:
        module (nn.Module): A MotionSqueeze module built with
            ``num_segments`` equal to the T of ``x``.
        x (Tensor): ``[N, C, T, H, W]`` features.

    Returns:
        Tensor: ``[N, C, T, H, W]``, input plus motion features.
    """
    n, c, t, h, w = x.shape
    if t != module.num_segments:
        raise ValueError(
            f'This MS module was built for T={module.num_segments} frames at its stage but '
            f'got features of shape {tuple(x.shape)} (T={t}). The backbone derives T from its '
            "clip_len and temporal strides: set the backbone's clip_len to the clip_len of "
            "the pipeline's SampleFrames.")
    frames = x.transpose(1, 2).reshape(n * t, c, h, w)  # [N, C, T, H, W] -> [N*T, C, H, W]
    out = module(frames)  # [N*T, C, H, W]
    # [N*T, C, H, W] -> [N, T, C, H, W] -> [N, C, T, H, W]
    return out.view(n, t, c, h, w).transpose(1, 2).contiguous()


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

    def run_ms_module(self, name: str, x: torch.Tensor, with_cp: bool = False) -> torch.Tensor:
        """Apply MS module ``name`` to a stage's output, 2D or 3D.

        Args:
            name (str): The attribute given to :meth:`add_ms_module`.
            x (Tensor): ``[N*T, C, H, W]`` frame features (2D and TSM
                backbones) or ``[N, C, T, H, W]`` clip features (3D CNNs).
            with_cp (bool): Recompute the module in the backward pass instead
                of storing its activations (its correlation volume, ``(2d+1)^2``
                channels per frame, is the largest). Defaults to False.

        Returns:
            Tensor: Same shape as ``x``: input plus motion features.
        """
        module = getattr(self, name)
        if x.dim() == 5:
            run = lambda features: motion_squeeze_clips(module, features)  # noqa: E731
        else:
            run = module
        if with_cp and x.requires_grad:
            return cp.checkpoint(run, x, use_reentrant=False)
        return run(x)

    @contextlib.contextmanager
    def ms_modules_hidden(self) -> Iterator[None]:
        """Inside the block the MS modules are not submodules of the backbone.

        For code that walks ``named_modules()`` to map a 2D checkpoint onto the
        backbone (MMAction2's weight inflation), where the MS modules have no
        counterpart and would only be reported as missing.
        """
        hidden = [(name, self._modules.pop(name)) for name, _ in self.ms_modules()]
        try:
            yield
        finally:
            for name, module in hidden:
                self._modules[name] = module

    def ms_modules(self) -> List[Tuple[str, nn.Module]]:
        """``(name, module)`` of each MS module, in the order they were added."""
        return [(name, getattr(self, name)) for name in getattr(self, '_ms_names', [])]

    def init_ms_weights(self) -> None:
        """Each MS module's own init (Kaiming convs, unit norms)."""
        for _, module in self.ms_modules():
            if hasattr(module, 'init_weights'):
                module.init_weights()

    def train(self, mode: bool = True) -> nn.Module:
        """The backbone's own train mode (frozen stages, ``norm_eval``, partial
        BN), then the MS modules' norms (:meth:`set_ms_norms_mode`); returns
        ``self`` as :meth:`torch.nn.Module.train` does (some MMAction2
        backbones' ``train`` returns None)."""
        super().train(mode)
        self.set_ms_norms_mode(mode, self.norm_eval)
        return self

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
