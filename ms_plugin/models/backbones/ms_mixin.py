"""The one mechanism behind every backbone with MotionSqueeze modules.

A backbone family declares its stages (:class:`StageSpec`: name, module,
channels, frames); :class:`MotionSqueezeMixin` builds the MS modules for the
chosen stages, names them ``ms_<stage name>``, and runs each one right after
its stage's module (:func:`run_after_forward`), so the family keeps its
parent's ``forward``.
"""
import contextlib
import functools
from typing import Dict, Iterator, List, NamedTuple, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmaction.registry import MODELS
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm

from .forward_wraps import run_after_forward

__all__ = ['MotionSqueezeMixin', 'StageSpec', 'check_stage_indices', 'motion_squeeze_clips']

# Arguments of MotionSqueeze that a backbone sets itself, per stage.
STAGE_ARGS = ('in_channels', 'num_segments')
# An MS module after stage `name` is the backbone's attribute `ms_<name>`.
MS_PREFIX = 'ms_'


class StageSpec(NamedTuple):
    """One stage of a backbone, as an MS module after it sees it.

    Attributes:
        name (str): The stage's name; the MS module after it is the
            backbone's attribute ``ms_<name>`` (e.g. ``'layer2'`` ->
            ``ms_layer2``).
        module (str): Dotted path, from the backbone, of the module whose
            output the MS module takes (e.g. ``'layer2'``, ``'model.blocks.2'``).
        channels (int): Channels C of that output.
        frames (int): Frames T per clip in that output.
    """
    name: str
    module: str
    channels: int
    frames: int


def check_stage_indices(stages: Union[int, Sequence[int]], num_stages: int,
                        what: str = 'ms_stages') -> Tuple[int, ...]:
    """Sorted stage indices in ``[0, num_stages)``; negative ones count from the end.

    Args:
        stages (int | Sequence[int]): Stage indices; a single int ``i`` is
            the one stage ``(i, )``.
        num_stages (int): How many stages the backbone has.
        what (str): The argument's name, for the error messages.
            Defaults to ``'ms_stages'``.

    Returns:
        tuple[int]: The indices, non-negative and sorted.

    Raises:
        ValueError: For an index out of range, not an int, or given twice.
    """
    if isinstance(stages, int) and not isinstance(stages, bool):
        stages = (stages, )
    resolved = []
    for stage in stages:
        if (isinstance(stage, bool) or not isinstance(stage, int)
                or not -num_stages <= stage < num_stages):
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
    """Builds, names and runs MotionSqueeze modules in an ``nn.Module`` backbone.

    A family (e.g. ``ResNetTSM_MS``) declares its stages in
    :meth:`stage_specs` and calls :meth:`build_motion_squeeze` once its own
    layers exist. For each chosen stage the MS module becomes the backbone's
    attribute ``ms_<stage name>`` (not a wrapper around the stage, so the
    backbone's own checkpoint keys keep their names and a stock checkpoint
    loads with only the MS keys missing), and the stage's module passes its
    output through the MS module (input plus motion features) before
    returning it (:func:`~.forward_wraps.run_after_forward`, not a hook,
    which ``torch.compile`` on torch 2.1 would skip). The family's
    ``forward`` stays its parent's.

    The family provides ``with_cp`` and ``norm_eval`` attributes.
    """

    # ------------------------------------------------------------ declared by the family
    def stage_specs(self) -> List[StageSpec]:
        """Every stage an MS module may follow, in forward order."""
        raise NotImplementedError(f'{type(self).__name__} must declare its stages.')

    def frames_origin(self) -> str:
        """Where the frame count T of the stages comes from, for error messages."""
        return f'num_segments={self.num_segments}'

    # ------------------------------------------------------------ building
    def build_motion_squeeze(self, ms_stages: Union[int, Sequence[int]], ms_cfg: Dict,
                             **defaults) -> None:
        """Add an MS module after every stage of ``ms_stages``; sets ``ms_stages``, ``ms_cfg``.

        Args:
            ms_stages (int | Sequence[int]): Indices into :meth:`stage_specs`
                (negative from the end; an int is one stage).
            ms_cfg (dict): The user's extra arguments of the MS modules; must
                not set ``in_channels`` or ``num_segments``.
            **defaults: Arguments that ``ms_cfg`` may override (e.g. the
                backbone's ``norm_cfg``).
        """
        specs = self.stage_specs()
        self.ms_stages = check_stage_indices(ms_stages, len(specs))
        self.ms_cfg = dict(ms_cfg)
        for index in self.ms_stages:
            spec = specs[index]
            if spec.frames < 2:
                raise ValueError(
                    f'ms_stages={self.ms_stages}: after {spec.name} a clip has T={spec.frames} '
                    f'({self.frames_origin()}); the MS module needs T >= 2 (num_segments >= 2) '
                    'to correlate adjacent frames. Choose an earlier stage or a longer clip.')
            name = MS_PREFIX + spec.name
            self.add_ms_module(name, spec.channels, spec.frames, self.ms_cfg, **defaults)
            run_after_forward(self.get_submodule(spec.module),
                              functools.partial(self.after_stage, name))

    def add_ms_module(self, name: str, in_channels: int, num_segments: int,
                      ms_cfg: Dict, **defaults) -> nn.Module:
        """Build ``ms_cfg`` (``type`` defaults to ``'MotionSqueeze'``) as attribute ``name``.

        Args:
            name (str): Attribute name, ``ms_<stage name>``.
            in_channels (int): Channels of the stage it follows.
            num_segments (int): Frames per clip at that stage.
            ms_cfg (dict): The user's extra arguments; must not set
                ``in_channels`` or ``num_segments``.
            **defaults: Arguments that ``ms_cfg`` may override.

        Returns:
            nn.Module: The module built.
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

    # ------------------------------------------------------------ running
    def after_stage(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """What a stage's module returns: its output ``x`` through MS module ``name``."""
        return self.run_ms_module(name, x, self.with_cp)

    def run_ms_module(self, name: str, x: torch.Tensor, with_cp: bool = False) -> torch.Tensor:
        """Apply MS module ``name`` to a stage's output, 2D or 3D.

        Args:
            name (str): The MS module's attribute name.
            x (Tensor): ``[N*T, C, H, W]`` frame features (2D and TSM
                backbones) or ``[N, C, T, H, W]`` clip features (3D CNNs).
            with_cp (bool): Recompute the module in the backward pass instead
                of storing its activations (its correlation volume, ``(2d+1)^2``
                channels per frame, is the largest). Defaults to False.

        Returns:
            Tensor: Same shape as ``x``: input plus motion features.
        """
        module = getattr(self, name)
        run = functools.partial(motion_squeeze_clips, module) if x.dim() == 5 else module
        if with_cp and x.requires_grad:
            return cp.checkpoint(run, x, use_reentrant=False)
        return run(x)

    # ------------------------------------------------------------ weights and modes
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
        """``(name, module)`` of each MS module, in stage order."""
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
