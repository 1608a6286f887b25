"""``ResNet3d_MS``, ``ResNet3dSlowOnly_MS`` and ``ResNet2Plus1d_MS``: MMAction2's
3D ResNets with MotionSqueeze modules between stages."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmaction.models.backbones.resnet2plus1d import ResNet2Plus1d
from mmaction.models.backbones.resnet3d import ResNet3d
from mmaction.models.backbones.resnet3d_slowonly import ResNet3dSlowOnly
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from torch.nn.modules.utils import _triple

from .ms_mixin import MotionSqueezeMixin, StageSpec

__all__ = ['ResNet2Plus1d_MS', 'ResNet3d_MS', 'ResNet3dSlowOnly_MS', 'ResNet3dMSMixin']


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
        ms_stages (int | Sequence[int]): 0-based indices of the stages
            followed by an MS module (negative counts from the end; an int
            ``i`` is ``(i, )``). Defaults to ``(1, )`` (after ``layer2`` =
            res3, the paper's position).
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze`. ``in_channels`` and
            ``num_segments`` are set per stage by the backbone; ``norm_cfg``
            defaults to the backbone's, made 2D (``BN3d`` -> ``BN2d``).
            Defaults to ``dict()``.
        **kwargs: Every argument of the 3D ResNet it is combined with.
    """

    def __init__(self,
                 clip_len: int = 8,
                 ms_stages: Union[int, Sequence[int]] = (1, ),
                 ms_cfg: Dict = dict(),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.clip_len = clip_len
        self.build_motion_squeeze(ms_stages, ms_cfg, norm_cfg=_norm_cfg_2d(self.norm_cfg))

    # ------------------------------------------------------------ structure
    def stage_specs(self) -> List[StageSpec]:
        """``layer1..4``: channels ``expansion * base_channels * 2**i``, T from
        :meth:`stage_frames`."""
        return [StageSpec(name, name, self.block.expansion * self.base_channels * 2**i,
                          self.stage_frames(i))
                for i, name in enumerate(self.res_layers)]

    def pools_run(self) -> Tuple[bool, bool]:
        """Whether ``forward`` runs ``maxpool`` and ``pool2``."""
        return self.with_pool1, self.with_pool2

    def frames_origin(self) -> str:
        """The settings T is derived from, for error messages."""
        pool1, pool2 = self.pools_run()
        return (f'clip_len={self.clip_len}, conv1_stride_t={self.conv1_stride_t}, '
                f'pool1_stride_t={self.pool1_stride_t} (maxpool runs: {pool1}), pool2 runs: '
                f'{pool2}, temporal_strides={tuple(self.temporal_strides)}')

    def stage_frames(self, stage: int) -> int:
        """T of ``layer{stage + 1}``'s output (before ``pool2``), for a clip of
        ``clip_len`` frames."""
        kernel_t = _triple(self.conv1_kernel)[0]
        frames = _conv_frames(self.clip_len, kernel_t, self.conv1_stride_t, (kernel_t - 1) // 2)
        pool1, pool2 = self.pools_run()
        if pool1:
            frames = _conv_frames(frames, 1, self.pool1_stride_t, 0)  # maxpool: (1, 3, 3)
        for i in range(stage + 1):
            if i == 1 and pool2:
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


@MODELS.register_module()
class ResNet2Plus1d_MS(ResNet3dMSMixin, ResNet2Plus1d):
    """MMAction2's ``ResNet2Plus1d`` (R(2+1)D) with MotionSqueeze modules.

    Its ``forward`` always runs ``maxpool`` and never ``pool2``, whatever
    ``with_pool1``/``with_pool2`` say, so T counts ``conv1``, ``maxpool`` and
    ``temporal_strides`` only. MMAction2's R(2+1)D-R34 8x8 (``clip_len=8``,
    strides ``(1, 2, 2, 2)``): T=8, 4, 2, 1 after ``layer1..4``, 64, 128, 256,
    512 ch; ``layer4`` (T=1) is refused. See :class:`ResNet3dMSMixin` for the
    arguments; the rest are ``ResNet2Plus1d``'s, and so are the keys.
    """

    def pools_run(self) -> Tuple[bool, bool]:
        """``maxpool`` always, ``pool2`` never (``ResNet2Plus1d.forward``)."""
        return True, False
