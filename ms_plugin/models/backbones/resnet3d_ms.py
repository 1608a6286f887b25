"""``ResNet3d_MS`` and ``ResNet3dSlowOnly_MS``: MMAction2's 3D ResNets with
MotionSqueeze modules between stages."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmaction.models.backbones.resnet3d import ResNet3d
from mmaction.models.backbones.resnet3d_slowonly import ResNet3dSlowOnly
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from torch.nn.modules.utils import _triple

from .ms_mixin import MotionSqueezeMixin, check_stage_indices

__all__ = ['ResNet3d_MS', 'ResNet3dSlowOnly_MS', 'ResNet3dMSMixin']


def _conv_frames(frames: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along T of a conv or pool over ``frames`` frames."""
    return (frames + 2 * padding - kernel) // stride + 1


def _norm_cfg_2d(norm_cfg: Dict) -> Dict:
    """The 2D counterpart of a 3D norm config: the MS module works on frames."""
    cfg = dict(norm_cfg)
    if cfg.get('type', '').endswith('3d'):  # BN3d -> BN2d, IN3d -> IN2d
        cfg['type'] = cfg['type'][:-2] + '2d'
    return cfg


class ResNet3dMSMixin(MotionSqueezeMixin):
    """MotionSqueeze modules for :class:`mmaction.models.ResNet3d` and its
    subclasses; combined with them in :class:`ResNet3d_MS` and
    :class:`ResNet3dSlowOnly_MS`.

    Features are ``[N, C, T, H, W]``. The MS module after stage ``i``
    (attribute ``ms_layer{i + 1}``) takes ``layer{i + 1}``'s output, folds the
    time axis into the batch (``[N*T, C, H, W]``, clip-major), correlates
    frame t with t+1 of each clip, and unfolds the result; the next stage (or
    ``pool2``, after ``layer1``) receives input + motion features.

    **T at each stage** is the clip's frame count after every temporal
    downsampling before the MS module, computed from the config: ``conv1``
    (kernel ``conv1_kernel[0]``, stride ``conv1_stride_t``), ``maxpool``
    (``pool1_stride_t``, if ``with_pool1``), the first block of each stage up to
    ``i`` (``temporal_strides``; a strided block keeps ``ceil(T / stride)``
    frames), and ``pool2`` (``T // 2``, if ``with_pool2``) for stages after
    ``layer1``. The MS module after ``layer1`` runs before ``pool2``, on all
    the frames. ``inflate`` changes the temporal kernels, not T. A stage
    with fewer than 2 frames has no pairs to correlate: choosing it is an
    error, and so is a clip whose T differs from ``clip_len`` at run time.

    Args:
        clip_len (int): Frames per clip at the backbone's input, the
            ``clip_len`` of the pipeline's ``SampleFrames``. Defaults to 8.
        ms_stages (Sequence[int]): 0-based indices of the stages followed by
            an MS module (negative counts from the end). Defaults to ``(1, )``
            (after ``layer2`` = res3, the paper's position).
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze`. ``in_channels`` and
            ``num_segments`` are set per stage by the backbone; ``norm_cfg``
            defaults to the backbone's, made 2D (``BN3d`` -> ``BN2d``).
            Defaults to ``dict()``.
        **kwargs: Every argument of the 3D ResNet it is combined with.
    """

    def __init__(self,
                 clip_len: int = 8,
                 ms_stages: Sequence[int] = (1, ),
                 ms_cfg: Dict = dict(),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.clip_len = clip_len
        self.ms_cfg = dict(ms_cfg)
        self.ms_stages = check_stage_indices(tuple(ms_stages), len(self.res_layers))
        for stage in self.ms_stages:
            frames = self.stage_frames(stage)
            if frames < 2:
                raise ValueError(
                    f'ms_stages={tuple(ms_stages)}: after layer{stage + 1} a clip of '
                    f'clip_len={clip_len} frames has T={frames} (conv1_stride_t='
                    f'{self.conv1_stride_t}, pool1_stride_t={self.pool1_stride_t}, '
                    f'with_pool2={self.with_pool2}, temporal_strides='
                    f'{tuple(self.temporal_strides)}); the MS module needs T >= 2 to '
                    'correlate adjacent frames. Choose an earlier stage or a longer clip.')
            self.add_ms_module(f'ms_layer{stage + 1}', self.stage_channels(stage), frames,
                               self.ms_cfg, norm_cfg=_norm_cfg_2d(self.norm_cfg))

    # ------------------------------------------------------------ structure
    def stage_channels(self, stage: int) -> int:
        """Output channels of ``layer{stage + 1}``."""
        return self.block.expansion * self.base_channels * 2**stage

    def stage_frames(self, stage: int) -> int:
        """T of ``layer{stage + 1}``'s output (before ``pool2``), for a clip of
        ``clip_len`` frames."""
        kernel_t = _triple(self.conv1_kernel)[0]
        frames = _conv_frames(self.clip_len, kernel_t, self.conv1_stride_t, (kernel_t - 1) // 2)
        if self.with_pool1:
            frames = _conv_frames(frames, 1, self.pool1_stride_t, 0)  # maxpool: (1, 3, 3)
        for i in range(stage + 1):
            if i == 1 and self.with_pool2:
                frames = _conv_frames(frames, 2, 2, 0)  # pool2 after layer1: (2, 1, 1)
            # A strided first block (and its downsample) keeps ceil(T / stride).
            frames = -(-frames // self.temporal_strides[i])
        return frames

    # ------------------------------------------------------------ weights
    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """The MS modules' own init, then the 3D ResNet's: from scratch, from a
        2D ResNet by inflation (``pretrained2d``), or from a 3D checkpoint
        (loaded with ``strict=False``, so a stock one leaves only the MS
        modules at their init and one of this backbone restores them too).

        Args:
            pretrained (str, optional): Overrides ``self.pretrained`` as
                ResNet3d's does. Defaults to None.
        """
        self.init_ms_weights()
        super().init_weights(pretrained)

    def inflate_weights(self, logger: MMLogger) -> None:
        """Inflate a 2D ResNet into the 3D stages; the MS modules, which no 2D
        ResNet has, are left out of the name matching."""
        with self.ms_modules_hidden():
            super().inflate_weights(logger)

    # ------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor]]:
        """Stem, then each stage followed by its MS module if it has one.

        Args:
            x (Tensor): ``[N, C, T, H, W]`` clips with ``T = clip_len``.

        Returns:
            Tensor | tuple[Tensor]: The features of the ``out_indices``
            stages (after their MS module and ``pool2``), ``[N, C', T', H', W']``.
        """
        x = self.conv1(x)
        if self.with_pool1:
            x = self.maxpool(x)
        outs: List[torch.Tensor] = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.ms_stages:
                x = self.run_ms_module(f'ms_layer{i + 1}', x, self.with_cp)
            if i == 0 and self.with_pool2:
                x = self.pool2(x)
            if i in self.out_indices:
                outs.append(x)
        if len(outs) == 1:
            return outs[0]
        return tuple(outs)


@MODELS.register_module()
class ResNet3d_MS(ResNet3dMSMixin, ResNet3d):
    """MMAction2's ``ResNet3d`` (I3D-style) with MotionSqueeze modules.

    See :class:`ResNet3dMSMixin` for ``clip_len``, ``ms_stages`` and
    ``ms_cfg``, and for how T is derived at each stage; every other argument
    is ``ResNet3d``'s, and so are the checkpoint keys (the MS modules are the
    extra ``ms_layer*`` attributes).
    """


@MODELS.register_module()
class ResNet3dSlowOnly_MS(ResNet3dMSMixin, ResNet3dSlowOnly):
    """MMAction2's ``ResNet3dSlowOnly`` with MotionSqueeze modules.

    SlowOnly keeps ``layer1`` and ``layer2`` frame-wise (``inflate=(0, 0, 1,
    1)``, no temporal stride, no ``pool2``), so after ``layer2`` (the
    default, res3) the MS module sees every sampled frame, as in MSNet, and
    the inflated ``layer3``/``layer4`` receive the motion features. For R50
    at 224x224 and 8 frames: ``[N, 512, 8, 28, 28]``.

    See :class:`ResNet3dMSMixin` for ``clip_len``, ``ms_stages`` and
    ``ms_cfg``; every other argument is ``ResNet3dSlowOnly``'s, and so are the
    checkpoint keys.
    """
