"""MSNet: the paper's defaults, overrides, training, and its motion maps in testing."""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
from pathlib import Path

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from ms_plugin.models import capture_motion, motion_squeeze_modules
from ms_plugin.models.recognizers import MSNet

R18 = dict(depth=18, num_segments=4)
BASE_CONFIG = Path(__file__).parents[1] / 'configs' / '_base_' / 'models' / 'msnet_r50.py'


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')


def _batch(samples: int, views: int, num_segments: int, size: int = 32) -> dict:
    """A data batch as the dataloader gives it: uint8-range frames, labels."""
    torch.manual_seed(3)
    inputs = [torch.randint(0, 256, (views * num_segments, 3, size, size)).float()
              for _ in range(samples)]
    data_samples = [ActionDataSample().set_gt_label(i % 3) for i in range(samples)]
    return dict(inputs=inputs, data_samples=data_samples)


def _model(**kwargs) -> MSNet:
    torch.manual_seed(0)
    model = MSNet(**kwargs)
    model.init_weights()
    return model


def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_defaults_are_the_papers_msnet_r50_and_cost_one_ms_module():
    model = MODELS.build(dict(type='MSNet'))
    backbone, head = model.backbone, model.cls_head
    assert type(backbone).__name__ == 'ResNetTSM_MS'
    assert (backbone.depth, backbone.num_segments, backbone.shift_div) == (50, 8, 8)
    assert [name for name, _ in backbone.ms_modules()] == ['ms_layer2']
    assert type(head).__name__ == 'TSMHead'
    assert (head.num_classes, head.in_channels, head.num_segments) == (174, 2048, 8)
    assert head.dropout_ratio == 0.5 and head.is_shift
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(),
                               torch.tensor([123.675, 116.28, 103.53]))
    torch.testing.assert_close(model.data_preprocessor.std.flatten(),
                               torch.tensor([58.395, 57.12, 57.375]))
    tsm = MODELS.build(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', depth=50, pretrained2d=False),
        cls_head=dict(type='TSMHead', num_classes=174, in_channels=2048)))
    assert _num_params(model) - _num_params(tsm) == 70905


def test_base_config_is_msnets_defaults_with_imagenet_initialisation():
    """The base config states the model of MSNet's Python defaults, with the
    ImageNet weights."""
    cfg = Config.fromfile(str(BASE_CONFIG))
    assert cfg.model.backbone.pretrained == 'torchvision://resnet50'
    from_config = MODELS.build(cfg.model)
    default = MODELS.build(dict(type='MSNet'))
    assert {k: v.shape for k, v in from_config.state_dict().items()} == \
        {k: v.shape for k, v in default.state_dict().items()}
    assert repr(from_config) == repr(default)
    assert from_config.backbone.pretrained == 'torchvision://resnet50'
    assert default.backbone.pretrained is None


def test_overrides_merge_into_the_defaults_and_the_head_follows_the_backbone():
    model = MSNet(backbone=dict(depth=18, num_segments=4, temporal_pool=True),
                  cls_head=dict(num_classes=5))
    assert (model.backbone.depth, model.backbone.shift_div) == (18, 8)  # shift_div kept
    head = model.cls_head
    assert (head.num_classes, head.in_channels, head.num_segments) == (5, 512, 4)
    assert head.temporal_pool and head.dropout_ratio == 0.5


def test_a_backbone_of_another_type_replaces_the_defaults():
    model = MSNet(backbone=dict(type='ResNetTSM', depth=18, num_segments=4, pretrained2d=False))
    assert type(model.backbone).__name__ == 'ResNetTSM'
    assert motion_squeeze_modules(model) == {}
    assert model.cls_head.in_channels == 512


def test_head_and_backbone_segment_counts_and_channels_must_agree():
    with pytest.raises(ValueError, match='num_segments'):
        MSNet(backbone=R18, cls_head=dict(num_segments=8))
    with pytest.raises(ValueError, match='in_channels=2048 but .* 512 .feat_dim'):
        MSNet(backbone=R18, cls_head=dict(in_channels=2048))


def test_a_head_of_another_type_is_built_as_given():
    """MMAction2's clip_feature_extraction.py swaps in a FeatureHead, which
    takes no in_channels: MSNet adds nothing to it."""
    model = MSNet(backbone=R18, cls_head=dict(type='FeatureHead', spatial_type='avg'))
    assert type(model.cls_head).__name__ == 'FeatureHead'
    assert model.cls_head.in_channels is None and model.cls_head.num_segments is None
    data = model.data_preprocessor(_batch(2, 1, 4), False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'], test_mode=True)[0]
        assert model.cls_head(feats, num_segs=4).shape == (2, 512)


def test_train_step_updates_every_parameter_of_the_ms_module():
    model = _model(backbone=R18, cls_head=dict(num_classes=3))
    optim = build_optim_wrapper(model, dict(
        constructor='TSMOptimWrapperConstructor', paramwise_cfg=dict(fc_lr5=False),
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
        clip_grad=dict(max_norm=200)))
    before = {k: v.clone() for k, v in model.backbone.ms_layer2.named_parameters()}
    losses = model.train_step(_batch(2, 1, 4), optim)
    assert torch.isfinite(losses['loss'])
    after = dict(model.backbone.ms_layer2.named_parameters())
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert unchanged == []


@pytest.mark.parametrize('max_testing_views', [None, 4])
def test_capture_motion_in_predict_gives_every_views_motion(max_testing_views):
    test_cfg = dict(max_testing_views=max_testing_views) if max_testing_views else None
    model = _model(backbone=R18, cls_head=dict(num_classes=3), test_cfg=test_cfg).eval()
    if max_testing_views:
        # MMAction2 1.2.0 reads `self.backbone.get('num_segments')` on that path,
        # which no nn.Module backbone has.
        model.backbone.get = lambda key, default=None: getattr(model.backbone, key, default)
    data = model.data_preprocessor(_batch(2, 3, 4), False)
    with torch.no_grad():
        expected = model.predict(**data)
    with torch.no_grad(), capture_motion(model) as chunks:
        predictions = model.predict(**data)
    motion = {name: torch.cat(maps) for name, maps in chunks.items()}

    assert len(predictions) == 2
    for got, want in zip(predictions, expected):
        torch.testing.assert_close(got.pred_score, want.pred_score)
    assert list(motion) == ['backbone.ms_layer2']
    maps = motion['backbone.ms_layer2']
    assert maps.shape == (2 * 3 * 4, 3, 4, 4)  # B*views*T frames, (dx, dy, conf), res3 grid
    assert maps[:, :2].abs().max() <= 1 and maps[:, 2].min() >= 0 and maps[:, 2].max() <= 1
    # Frame by frame: the maps of one view are those of that view alone.
    with torch.no_grad(), capture_motion(model) as alone:
        model.predict(data['inputs'][1:2, 8:12], data['data_samples'][:1])
    torch.testing.assert_close(maps[3 * 4 + 8:3 * 4 + 12], torch.cat(alone['backbone.ms_layer2']),
                               rtol=1e-4, atol=1e-5)
    assert model.backbone.ms_layer2.motion_sink is None  # nothing kept


def test_capture_motion_needs_ms_modules():
    model = _model(backbone=dict(R18, ms_stages=()), cls_head=dict(num_classes=3)).eval()
    with pytest.raises(ValueError, match='no MotionSqueeze module'):
        with capture_motion(model):
            pass


def test_tsm_recognizer_checkpoint_loads_with_only_ms_keys_missing():
    model = MSNet(backbone=R18, cls_head=dict(num_classes=3))
    tsm = MODELS.build(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', depth=18, num_segments=4, pretrained2d=False),
        cls_head=dict(type='TSMHead', num_classes=3, in_channels=512, num_segments=4)))
    missing, unexpected = model.load_state_dict(tsm.state_dict(), strict=False)
    assert unexpected == []
    assert missing and all(key.startswith('backbone.ms_layer2.') for key in missing)
