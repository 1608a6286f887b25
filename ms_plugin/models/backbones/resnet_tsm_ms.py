"""``ResNetTSM_MS``: MMAction2's TSM ResNet with MotionSqueeze modules between stages."""
from typing import Dict, Sequence, Tuple, Union

import torch
from mmaction.models.backbones.resnet import ResNet
from mmaction.models.backbones.resnet_tsm import ResNetTSM
from mmaction.registry import MODELS

from .ms_mixin import MotionSqueezeMixin, check_stage_indices

__all__ = ['ResNetTSM_MS']


@MODELS.register_module()
class ResNetTSM_MS(MotionSqueezeMixin, ResNetTSM):
    """TSM ResNet with a MotionSqueeze (MS) module after chosen stages.

    MSNet (Kwon et al., ECCV 2020) is this backbone with one MS module after
    res3 (``layer2``, ``ms_stages=(1,)``): the module's output, the input plus
    the motion features, is what ``layer3`` receives. The MS modules are
    attributes ``ms_layer{i + 1}`` of the backbone rather than wrappers around
    ``layer{i + 1}``, so every TSM key keeps MMAction2's name: a ResNetTSM
    checkpoint loads with only the ``ms_layer*`` keys missing, and
    ``pretrained2d`` loads torchvision ImageNet weights exactly as ResNetTSM
    does, leaving the MS modules at their own init.

    How the MS modules follow the ResNet options:

    - ``temporal_pool``: ResNetTSM halves the frames before ``layer2``; an MS
      module after stage 1 or later is built with ``num_segments // 2``.
    - ``with_cp``: the MS modules are checkpointed too (their correlation
      volume, ``(2d+1)^2`` channels per frame, is the largest activation).
    - ``norm_eval``: their norm layers are frozen like every other.
    - ``frozen_stages``: freezes the stem and ``layer1..frozen_stages`` only;
      the MS modules are new parameters and stay trainable.
    - ``partial_bn``: freezes the pretrained BatchNorms except the first; the
      MS modules' BatchNorms, which have no pretrained statistics, keep
      training (unless ``norm_eval``).

    Args:
        depth (int): Depth of the ResNet, one of 18, 34, 50, 101, 152.
        num_segments (int): Frames per clip T. Defaults to 8.
        ms_stages (Sequence[int]): 0-based indices of the stages after which
            an MS module is inserted; 1 (after ``layer2`` = res3) is the
            paper's. Defaults to ``(1, )``.
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze` (e.g. ``max_displacement``,
            ``soft_argmax``). ``in_channels`` and ``num_segments`` are set per
            stage by the backbone; ``norm_cfg`` defaults to the backbone's.
            Defaults to ``dict()``.
        **kwargs: Every other argument of
            :class:`mmaction.models.ResNetTSM` (``pretrained``,
            ``pretrained2d``, ``shift_div``, ``temporal_pool``, ``norm_eval``,
            ``with_cp``, ...).
    """

    def __init__(self,
                 depth: int,
                 num_segments: int = 8,
                 ms_stages: Sequence[int] = (1, ),
                 ms_cfg: Dict = dict(),
                 **kwargs) -> None:
        # ResNetTSM.__init__ calls init_structure(), which builds the MS
        # modules, so their settings must exist first.
        self.ms_stages = tuple(ms_stages)
        self.ms_cfg = dict(ms_cfg)
        super().__init__(depth, num_segments=num_segments, **kwargs)

    # ------------------------------------------------------------ structure
    def init_structure(self) -> None:
        """Build the TSM structure (shift, non-local, temporal pool), then the
        MS modules."""
        super().init_structure()
        self.make_motion_squeeze()

    def _stage_channels(self, stage: int) -> int:
        return self.block.expansion * 64 * 2**stage

    def _stage_segments(self, stage: int) -> int:
        # ResNetTSM's temporal pool halves the frames on the way into layer2.
        if self.temporal_pool and stage >= 1:
            return self.num_segments // 2
        return self.num_segments

    def make_motion_squeeze(self) -> None:
        """Add ``ms_layer{i + 1}`` after every stage ``i`` of ``ms_stages``."""
        self.ms_stages = check_stage_indices(self.ms_stages, self.num_stages)
        for stage in self.ms_stages:
            self.add_ms_module(f'ms_layer{stage + 1}', self._stage_channels(stage),
                               self._stage_segments(stage), self.ms_cfg,
                               norm_cfg=self.norm_cfg)

    # ------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Initialise from ImageNet weights (``pretrained2d``), a checkpoint of
        this backbone, or from scratch.

        ``pretrained=None`` with ``pretrained2d=True`` (ResNetTSM's default)
        initialises from scratch; ResNetTSM itself crashes there, trying to
        load torchvision weights from None.
        """
        if self.pretrained2d and not self.pretrained:
            # Kaiming / constant init of the whole backbone, MS modules included.
            ResNet.init_weights(self)
            return
        super().init_weights()
        if self.pretrained2d:
            # The 2D weights cover the ResNet only: the MS modules get their
            # own init (Kaiming convs, unit norms), whatever ran before.
            self.init_ms_weights()

    # ------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor]]:
        """Stem, then each stage followed by its MS module if it has one.

        Args:
            x (Tensor): ``[N*T, 3, H, W]`` frames, clip-major (any number of
                views per sample, as long as the batch is a multiple of T).

        Returns:
            Tensor | tuple[Tensor]: The features of the ``out_indices`` stages
            (after their MS module), ``[N*T', C, H', W']`` each, with
            ``T' = T // 2`` after ``layer1`` when ``temporal_pool``.
        """
        x = self.conv1(x)
        x = self.maxpool(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.ms_stages:
                x = self.run_ms_module(f'ms_layer{i + 1}', x, self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        if len(outs) == 1:
            return outs[0]
        return tuple(outs)
