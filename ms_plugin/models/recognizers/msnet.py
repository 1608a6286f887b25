"""``MSNet``: a Recognizer2D whose defaults are the paper's MSNet-R50.

The defaults serve Python users (``MSNet()``). The configs state every value
(``configs/_base_/models/msnet_r50.py``), so ``print_config`` shows the model
the runner builds; tests/test_configs.py checks that no config relies on them.
"""
import copy
from typing import Dict

from mmaction.models.recognizers.recognizer2d import Recognizer2D
from mmaction.registry import MODELS
from mmaction.utils import OptConfigType

from ...utils.errors import InputError
from ..naming import type_name

__all__ = ['MSNet']

# The paper's MSNet: TSM ResNet-50, 8 frames, 1/8 of the channels shifted each
# way, one MS module after res3. ImageNet initialisation is set by the configs
# (``pretrained='torchvision://resnet50'``) so that building never downloads.
DEFAULT_BACKBONE = dict(
    type='ResNetTSM_MS',
    depth=50,
    num_segments=8,
    shift_div=8,
    ms_stages=(1, ),
    pretrained=None,
    norm_eval=False)
# ``in_channels``, ``num_segments`` and ``temporal_pool`` follow the backbone
# unless given (see ``MSNet``).
DEFAULT_HEAD = dict(
    type='TSMHead',
    num_classes=174,
    spatial_type='avg',
    consensus=dict(type='AvgConsensus', dim=1),
    dropout_ratio=0.5,
    init_std=0.001,
    is_shift=True,
    average_clips='prob')
# Scoped name: MMEngine builds the preprocessor from its root registry, so
# ``MSNet()`` then works outside an ``mmaction`` default scope too.
DEFAULT_PREPROCESSOR = dict(
    type='mmaction.ActionDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    format_shape='NCHW')
# TSMHead arguments that must agree with the backbone: head key -> backbone attribute.
_SYNCED_HEAD_ARGS = dict(in_channels='feat_dim', num_segments='num_segments',
                         temporal_pool='temporal_pool')


def _merge_defaults(defaults: Dict, given: OptConfigType) -> Dict:
    """``defaults`` updated (recursively) by ``given``; a ``given`` of another
    ``type`` replaces the defaults instead of being merged into them."""
    if given is None:
        return copy.deepcopy(defaults)
    given = dict(given)
    if 'type' in given and type_name(given) != type_name(defaults):
        return given
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_defaults(merged[key], value)
        else:
            merged[key] = value
    return merged


@MODELS.register_module()
class MSNet(Recognizer2D):
    """MSNet (Kwon et al., ECCV 2020): a 2D recognizer on a TSM ResNet with
    MotionSqueeze modules.

    Every argument defaults to the paper's MSNet-R50: backbone
    ``ResNetTSM_MS`` of depth 50, 8 segments, ``shift_div=8``, one MS module
    after res3; a ``TSMHead`` with 174 classes (Something-Something) and
    dropout 0.5; an ``ActionDataPreprocessor`` with the ImageNet mean and std.
    A dict given for one part is merged into its defaults, so
    ``MSNet(backbone=dict(depth=18))`` changes the depth only; a dict with
    another ``type`` replaces the defaults. A ``TSMHead``'s ``in_channels``,
    ``num_segments`` and ``temporal_pool`` follow the backbone unless set; a
    head of another type (e.g. the ``FeatureHead`` of MMAction2's
    ``clip_feature_extraction.py``) is built as given.

    Args:
        backbone (dict, optional): Backbone config. Defaults to None (the
            paper's).
        cls_head (dict, optional): Head config. Defaults to None (the paper's).
        neck (dict, optional): Neck config. Defaults to None.
        train_cfg (dict, optional): Training config. Defaults to None.
        test_cfg (dict, optional): Testing config. Defaults to None.
        data_preprocessor (dict, optional): Preprocessor config. Defaults to
            None (the paper's).
    """

    def __init__(self,
                 backbone: OptConfigType = None,
                 cls_head: OptConfigType = None,
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None) -> None:
        backbone = _merge_defaults(DEFAULT_BACKBONE, backbone)
        head = _merge_defaults(DEFAULT_HEAD, cls_head)
        data_preprocessor = _merge_defaults(DEFAULT_PREPROCESSOR, data_preprocessor)
        # The head is built after the backbone so that it can follow it; it is
        # also the last module, which TSMOptimWrapperConstructor requires.
        super().__init__(backbone=backbone, neck=neck, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor)
        self.cls_head = MODELS.build(self._head_for_backbone(head))

    def _head_for_backbone(self, head: Dict) -> Dict:
        """A ``TSMHead`` gets (or is checked against) the backbone's values of
        :data:`_SYNCED_HEAD_ARGS`; a head of another type is built as given."""
        if type_name(head) != 'TSMHead':
            return head
        for key, attr in _SYNCED_HEAD_ARGS.items():
            value = getattr(self.backbone, attr, None)
            if value is None:
                continue
            if key not in head:
                head[key] = value
            elif head[key] != value:
                raise InputError(
                    f'cls_head.{key}={head[key]} but the backbone gives {value} ({attr}): '
                    'TSMHead needs the same value. Set both (e.g. --cfg-options '
                    f'model.backbone.{attr}={value} model.cls_head.{key}={value}), or leave '
                    'it out of cls_head and MSNet copies it from the backbone.')
        return head
