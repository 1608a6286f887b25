"""TimmTSM_MS: timm CNNs as TSM backbones with MotionSqueeze modules (what every
MS backbone shares is in tests/test_backbone_contract.py)."""
import socket
from pathlib import Path

import pytest
import timm
import torch
import torch.nn as nn
import torchvision
from mmaction.models.backbones import ResNetTSM
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from ms_plugin.models import capture_motion
from ms_plugin.models.backbones.timm_tsm_ms import TimmTSM_MS

ARCHS = ('resnet50', 'mobilenetv3_large_100', 'efficientnet_b0', 'convnext_tiny', 'regnety_016')
# Stage counts of timm's feature_info; the test below checks them too.
NUM_STAGES = {'convnext_tiny': 4}
SIZE = 64  # 64x64 frames: the stride-32 stage is 2x2


def clip(num_frames: int = 2, seed: int = 0) -> torch.Tensor:
    """One clip of ``num_frames`` frames, [N*T, 3, H, W]."""
    return torch.randn(num_frames, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def randomize_norms(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and affines (timm zero-inits some)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


@pytest.mark.parametrize('name,stage', [
    (name, stage) for name in ARCHS for stage in range(NUM_STAGES.get(name, 5))])
def test_ms_after_each_stage_trains(name, stage):
    torch.manual_seed(0)
    backbone = TimmTSM_MS(name, num_segments=2, ms_stages=(stage, ))
    info = backbone.feature_info
    assert len(info) == NUM_STAGES.get(name, 5)
    ms = getattr(backbone, f'ms_stage{stage}')
    assert ms.in_channels == info[stage]['num_chs']
    backbone.train()

    with capture_motion(ms) as motion:
        out = backbone(clip())
    side = SIZE // info[-1]['reduction']
    assert out.shape == (2, info[-1]['num_chs'], side, side)
    # The MS module ran once, on the output of the chosen stage.
    side = SIZE // info[stage]['reduction']
    assert [m.shape for m in motion['']] == [(2, 3, side, side)]

    out.pow(2).mean().backward()
    no_grad = [n for n, p in backbone.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    ms_grads = [p.grad for p in ms.parameters()]
    assert ms_grads and any(g.abs().sum() > 0 for g in ms_grads)


@pytest.mark.parametrize('name', ARCHS)
def test_default_ms_stage_is_first_stride_8(name):
    backbone = TimmTSM_MS(name, num_segments=2)
    reductions = [f['reduction'] for f in backbone.feature_info]
    assert backbone.ms_stages == (reductions.index(8), )
    assert [n for n, _ in backbone.ms_modules()] == [f'ms_stage{reductions.index(8)}']
    # Every block of the kept stages is shifted, the stem is not.
    assert len(backbone.shifted_blocks) > 0
    assert not any(n.startswith(('conv_stem', 'stem', 'conv1')) for n in backbone.shifted_blocks)


def test_registry_builds_it():
    backbone = MODELS.build(dict(type='TimmTSM_MS', model_name='regnety_016', num_segments=2,
                                 ms_stages=(-1, ), ms_cfg=dict(max_displacement=1)))
    assert isinstance(backbone, TimmTSM_MS)
    assert backbone.ms_stages == (4, )
    assert backbone.ms_stage4.max_displacement == 1


def test_same_as_mmaction_resnet_tsm(tmp_path):
    """ms_stages=() is MMAction2's ResNetTSM (blockres shift) on the same weights."""
    torch.manual_seed(0)
    source = timm.create_model('resnet18')
    randomize_norms(source)
    path = str(tmp_path / 'resnet18.pth')
    torch.save(source.state_dict(), path)

    ours = TimmTSM_MS('resnet18', num_segments=2, ms_stages=(), pretrained=path)
    ours.init_weights()
    theirs = ResNetTSM(depth=18, num_segments=2, shift_div=8, pretrained=path)
    theirs.init_weights()
    unshifted = TimmTSM_MS('resnet18', num_segments=2, ms_stages=(), shift=False, pretrained=path)
    unshifted.init_weights()
    theirs.eval()  # ResNetTSM.train returns None: not chainable
    x = clip(4)
    with torch.no_grad():
        expected = theirs(x)
        torch.testing.assert_close(ours.eval()(x), expected)
        assert not torch.allclose(unshifted.eval()(x), expected, atol=1e-3)


@pytest.mark.parametrize('shift,ms_stages,mixes', [
    (False, (), False), (True, (), True), (False, (2, ), True)])
def test_frames_interact_only_through_shift_or_ms(shift, ms_stages, mixes):
    torch.manual_seed(0)
    backbone = TimmTSM_MS('mobilenetv3_large_100', num_segments=2, ms_stages=ms_stages,
                          shift=shift).eval()
    x = clip()
    y = x.clone()
    y[1] += 1.0  # change the second frame only
    with torch.no_grad():
        first, changed = backbone(x)[0], backbone(y)[0]
    assert torch.allclose(first, changed, atol=1e-6) != mixes


def test_pretrained_timm_file_leaves_only_ms_keys_missing(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model('mobilenetv3_large_100')
    randomize_norms(source)
    path = str(tmp_path / 'mbv3.pth')
    torch.save(source.state_dict(), path)

    backbone = TimmTSM_MS('mobilenetv3_large_100', num_segments=2, ms_stages=(1, 3),
                          pretrained=path)
    ms_keys = {k for k in backbone.state_dict() if k.startswith('ms_stage')}
    missing, unexpected = backbone.load_pretrained(path)
    assert set(missing) == ms_keys and {k.split('.')[0] for k in ms_keys} == {
        'ms_stage1', 'ms_stage3'}
    # Only the classifier (removed by the backbone) is left over.
    assert unexpected and all(k.startswith(('conv_head', 'classifier')) for k in unexpected)
    expected = source.state_dict()
    for key, value in backbone.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)

    # The same through init_weights, and a DataParallel-style wrapped file.
    torch.save(dict(state_dict={f'module.{k}': v for k, v in expected.items()}), path)
    other = TimmTSM_MS('mobilenetv3_large_100', num_segments=2, pretrained=path)
    other.init_weights()
    torch.testing.assert_close(other.model.state_dict(), backbone.model.state_dict())


def test_pretrained_torchvision_resnet_file(tmp_path):
    source = torchvision.models.resnet18(weights=None)
    randomize_norms(source)
    path = str(tmp_path / 'tv_r18.pth')
    torch.save(source.state_dict(), path)
    backbone = TimmTSM_MS('resnet18', num_segments=2)
    missing, unexpected = backbone.load_pretrained(path)
    assert missing and all(k.startswith('ms_stage2.') for k in missing)
    assert set(unexpected) == {'fc.weight', 'fc.bias'}
    torch.testing.assert_close(backbone.model.layer4[1].bn2.running_var,
                               source.layer4[1].bn2.running_var)


def test_pretrained_file_of_a_compiled_model_and_ema_weights(tmp_path):
    """timm's reader: torch.compile's ``_orig_mod.`` prefix goes, the plain
    ``state_dict`` is read rather than EMA weights saved beside it."""
    torch.manual_seed(0)
    source = timm.create_model('resnet18')
    randomize_norms(source)
    state = source.state_dict()
    path = str(tmp_path / 'compiled.pth')
    torch.save(dict(state_dict={f'_orig_mod.{k}': v for k, v in state.items()},
                    state_dict_ema={k: torch.zeros_like(v) for k, v in state.items()}), path)
    backbone = TimmTSM_MS('resnet18', num_segments=2)
    missing, _ = backbone.load_pretrained(path)
    assert missing and all(k.startswith('ms_stage2.') for k in missing)
    torch.testing.assert_close(backbone.model.layer3[0].bn1.running_mean,
                               state['layer3.0.bn1.running_mean'], rtol=0, atol=0)


def test_pretrained_wrong_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'wrong.pth')
    torch.save(timm.create_model('resnet18').state_dict(), path)
    with pytest.raises(ValueError, match='shape mismatches'):
        TimmTSM_MS('resnet50', num_segments=2).load_pretrained(path)
    torch.save({'encoder.weight': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='No key of'):
        TimmTSM_MS('resnet18', num_segments=2).load_pretrained(path)


def test_creation_does_not_touch_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('network access')

    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    with pytest.raises(AssertionError, match='network access'):
        socket.create_connection(('huggingface.co', 443))  # the guard is in place
    backbone = TimmTSM_MS('efficientnet_b0', num_segments=2)
    backbone.init_weights()
    assert backbone(clip()).shape[1] == backbone.feat_dim


def test_out_stage_cuts_the_model():
    backbone = TimmTSM_MS('resnet18', num_segments=2, out_stage=2)
    assert backbone.feat_dim == 128 == backbone.feature_info[-1]['num_chs']
    assert backbone(clip()).shape == (2, 128, SIZE // 8, SIZE // 8)
    keys = backbone.state_dict()
    assert not any(k.startswith(('model.layer3', 'model.layer4', 'model.fc')) for k in keys)
    assert any(k.startswith('model.layer2') for k in keys)


@pytest.mark.parametrize('kwargs,match', [
    (dict(model_name='resnet_does_not_exist'), 'no model named'),
    (dict(model_name='resnet18', ms_stages=(3, ), out_stage=2), 'out of range'),
    (dict(model_name='resnet18', out_stage=1), 'no stage of reduction 8'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TimmTSM_MS(num_segments=2, **kwargs)


def test_model_without_stages_is_rejected(monkeypatch):
    monkeypatch.setattr(timm, 'create_model', lambda *a, **k: nn.Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match='does not expose its stages'):
        TimmTSM_MS('resnet18')


def test_bad_input_is_a_clear_error():
    backbone = TimmTSM_MS('resnet18', num_segments=2)
    with pytest.raises(ValueError, match='multiple of num_segments=2'):
        backbone(torch.zeros(3, 3, SIZE, SIZE))


def test_timm_grad_checkpointing_is_refused():
    backbone = TimmTSM_MS('resnet18', num_segments=2)
    backbone.model.set_grad_checkpointing(True)
    with pytest.raises(RuntimeError, match='checkpointing'):
        backbone(clip())


def test_mobilenetv3_sthv2_config_builds_and_trains_a_step():
    root = Path(__file__).resolve().parents[1]
    cfg = Config.fromfile(str(root / 'configs' / 'msnet_timm-mobilenetv3_sthv2.py'))
    init_default_scope(cfg.default_scope)
    backbone_cfg = cfg.model.backbone
    assert backbone_cfg.type == 'TimmTSM_MS' and 'depth' not in backbone_cfg
    # The dataset's pipeline sends as many frames per clip as the backbone expects.
    assert cfg.train_pipeline[1].num_clips == backbone_cfg.num_segments

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.cls_head.in_channels == model.backbone.feat_dim
    assert model.cls_head.num_segments == backbone_cfg.num_segments
    with pytest.raises(FileNotFoundError, match='pretrained=True'):
        model.backbone.init_weights()  # the ImageNet file is not in the repository

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)  # TSM's param groups
    frames = torch.randint(0, 255, (1, 8, 3, SIZE, SIZE), dtype=torch.uint8)
    data = dict(inputs=[frames[0]], data_samples=[ActionDataSample().set_gt_label(3)])
    model.train()
    ms_weight = model.backbone.ms_stage2.reduce.conv.weight.detach().clone()
    losses = model.train_step(data, optim_wrapper)
    assert torch.isfinite(losses['loss_cls'])
    assert not torch.equal(ms_weight, model.backbone.ms_stage2.reduce.conv.weight)
