"""``ResNetTSM_MS``: MMAction2's TSM ResNet with MotionSqueeze modules between stages."""
from typing import Dict, List, Sequence, Union

from mmaction.models.backbones.resnet import ResNet
from mmaction.models.backbones.resnet_tsm import ResNetTSM
from mmaction.registry import MODELS

from .ms_mixin import MotionSqueezeMixin, StageSpec

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
        ms_stages (int | Sequence[int]): 0-based indices of the stages after
            which an MS module is inserted (an int ``i`` is ``(i, )``); 1
            (after ``layer2`` = res3) is the paper's. Defaults to ``(1, )``.
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
                 ms_stages: Union[int, Sequence[int]] = (1, ),
                 ms_cfg: Dict = dict(),
                 **kwargs) -> None:
        # ResNetTSM.__init__ calls init_structure(), which builds the MS
        # modules, so their settings must exist first.
        self.ms_stages = ms_stages
        self.ms_cfg = ms_cfg
        super().__init__(depth, num_segments=num_segments, **kwargs)

    # ------------------------------------------------------------ structure
    def init_structure(self) -> None:
        """Build the TSM structure (shift, non-local, temporal pool), then the
        MS modules (on the final ``layer2``, temporal pool included)."""
        super().init_structure()
        self.build_motion_squeeze(self.ms_stages, self.ms_cfg, norm_cfg=self.norm_cfg)

    def stage_specs(self) -> List[StageSpec]:
        """``layer1..4``: channels ``expansion * 64 * 2**i``; T halved from
        ``layer2`` on with ``temporal_pool`` (ResNetTSM pools on the way in)."""
        return [StageSpec(name, name, self.block.expansion * 64 * 2**i,
                          self.num_segments // 2 if self.temporal_pool and i >= 1
                          else self.num_segments)
                for i, name in enumerate(self.res_layers)]

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
