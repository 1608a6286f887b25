"""``MobileNetV2TSM_MS``: MMAction2's TSM MobileNetV2 with MotionSqueeze modules."""
from typing import Dict, List, Sequence, Union

import torch.nn as nn
from mmaction.models.backbones.mobilenet_v2 import MobileNetV2
from mmaction.models.backbones.mobilenet_v2_tsm import MobileNetV2TSM
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import _load_checkpoint

from ...utils.checkpoint import compare_state_dicts
from ..naming import without_shift_wrapper
from .ms_mixin import MotionSqueezeMixin, StageSpec

__all__ = ['MobileNetV2TSM_MS']


def _out_channels(layer: nn.Module) -> int:
    """Output channels of a MobileNetV2 stage: those of its last convolution."""
    convs = [m for m in layer.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


@MODELS.register_module()
class MobileNetV2TSM_MS(MotionSqueezeMixin, MobileNetV2TSM):
    """TSM MobileNetV2 with a MotionSqueeze (MS) module after chosen stages.

    The stages are MobileNetV2's ``layers``: ``layer1`` .. ``layer7`` (the
    inverted-residual stages) and ``conv2`` (the last 1x1 conv), indices
    0..7 as in ``out_indices``. The temporal shift is MMAction2's
    (``is_shift``: 1/``shift_div`` of the channels each way, in front of the
    first conv of every inverted-residual block with a shortcut). The MS
    module after stage ``i`` is the attribute ``ms_<stage name>`` (e.g.
    ``ms_layer3``); its output, input plus motion features, is what the next
    stage receives. Every MobileNetV2TSM key keeps its name, so a
    MobileNetV2TSM checkpoint loads with only the ``ms_*`` keys missing.

    At 224x224 input the stages give (width 1.0): ``layer1`` 16 ch 112x112,
    ``layer2`` 24 ch 56x56, ``layer3`` 32 ch 28x28, ``layer4`` 64 ch 14x14,
    ``layer5`` 96 ch 14x14, ``layer6`` 160 ch 7x7, ``layer7`` 320 ch 7x7,
    ``conv2`` 1280 ch 7x7. The default, after ``layer3``, is the first stage
    at 1/8 of the input size, the paper's res3 position.

    - ``with_cp`` also checkpoints the MS modules.
    - ``norm_eval`` keeps their BatchNorms in eval mode too.
    - ``frozen_stages`` freezes ``conv1`` and the first stages only; the MS
      modules are new and stay trainable.
    - ``pretrained2d`` with ``pretrained`` loads a MobileNetV2 (2D) checkpoint
      as MobileNetV2TSM does (the shifted convs' ``.net`` names mapped),
      strictly except for the MS modules, which keep their own init;
      ``pretrained=None`` initialises from scratch (MobileNetV2TSM would try to
      load from None).

    Args:
        num_segments (int): Frames per clip T. Defaults to 8.
        ms_stages (int | Sequence[int]): 0-based indices into ``layers`` of
            the stages followed by an MS module (negative counts from the end;
            an int ``i`` is ``(i, )``). Defaults to ``(2, )`` (after ``layer3``).
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze` (``max_displacement``,
            ``soft_argmax``, ...). ``in_channels`` and ``num_segments`` are
            set per stage by the backbone; ``norm_cfg`` defaults to the
            backbone's. Defaults to ``dict()``.
        **kwargs: Every other argument of
            :class:`mmaction.models.MobileNetV2TSM` (``is_shift``,
            ``shift_div``, ``pretrained``, ``pretrained2d``, ``widen_factor``,
            ``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``, ...).
    """

    def __init__(self,
                 num_segments: int = 8,
                 ms_stages: Union[int, Sequence[int]] = (2, ),
                 ms_cfg: Dict = dict(),
                 **kwargs) -> None:
        super().__init__(num_segments=num_segments, **kwargs)
        self.build_motion_squeeze(ms_stages, ms_cfg, norm_cfg=self.norm_cfg)

    # ------------------------------------------------------------ structure
    def stage_specs(self) -> List[StageSpec]:
        """``layer1..7`` and ``conv2``: the channels of each one's last conv
        (``widen_factor`` applied), every frame."""
        return [StageSpec(name, name, _out_channels(getattr(self, name)), self.num_segments)
                for name in self.layers]

    # ------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Initialise from a 2D MobileNetV2 (``pretrained2d``), a checkpoint of
        this backbone (``pretrained2d=False``), or from scratch."""
        if self.pretrained2d and not self.pretrained:
            # Kaiming convs and unit norms (MobileNetV2's init_cfg); the MS
            # modules' own init runs inside, as they are children.
            MobileNetV2.init_weights(self)
            return
        self.init_ms_weights()
        super().init_weights()

    def load_original_weights(self, logger: MMLogger) -> None:
        """Load a 2D MobileNetV2 checkpoint into the shifted network.

        As MobileNetV2TSM's, strict about every key but the MS modules'.

        Raises:
            RuntimeError: If the file lacks a MobileNetV2 key or holds a key
                that is not one (e.g. a classifier).
        """
        state = _load_checkpoint(self.pretrained, map_location='cpu')
        if 'state_dict' in state:
            state = state['state_dict']
        # 2D name -> name here: the shifted convs sit inside a TemporalShift (.net).
        own_names = {without_shift_wrapper(key): key for key in self.state_dict()}
        ms_prefixes = tuple(f'{name}.' for name, _ in self.ms_modules())
        renamed = {own_names.get(key, key): value for key, value in state.items()}
        own = {key: value for key, value in self.state_dict().items()
               if not key.startswith(ms_prefixes)}
        mismatch = compare_state_dicts(own, renamed)
        if mismatch:
            raise RuntimeError(
                mismatch.describe(self.pretrained) + '\nUse a MobileNetV2 backbone state_dict '
                "of this width (e.g. 'mmcls://mobilenet_v2'), or pretrained2d=False for a "
                'checkpoint of a MobileNetV2TSM(_MS) backbone.')
        self.load_state_dict(renamed, strict=False)
        logger.info(f'MobileNetV2TSM_MS: loaded {len(renamed)} tensors from {self.pretrained}; '
                    f'the MS modules {[name for name, _ in self.ms_modules()]} keep their init.')
