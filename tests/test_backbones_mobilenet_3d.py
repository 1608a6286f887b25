"""MobileNetV2TSM_MS and the 3D ResNets (ResNet3d_MS, ResNet3dSlowOnly_MS,
ResNet2Plus1d_MS): where the MS modules go, their channels and T, and loading
2D and 3D checkpoints through ``pretrained``. What every MS backbone shares (with_cp, norm_eval,
frozen_stages, equality with the stock backbone, checkpoints) is in
tests/test_backbone_contract.py."""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
import pytest
import torch
import torch.nn as nn
import torchvision
from mmaction.models.backbones.mobilenet_v2 import MobileNetV2
from mmaction.models.backbones.mobilenet_v2_tsm import MobileNetV2TSM
from mmaction.models.backbones.resnet3d_slowonly import ResNet3dSlowOnly
from mmaction.models.common import Conv2plus1d
from torch.nn.modules.batchnorm import _BatchNorm

from ms_plugin.models import MotionSqueeze
from ms_plugin.models.backbones import (MobileNetV2TSM_MS, ResNet2Plus1d_MS, ResNet3d_MS,
                                        ResNet3dSlowOnly_MS)
from ms_plugin.models.backbones.ms_mixin import motion_squeeze_clips


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ================================================================ MobileNetV2TSM_MS
def _mobilenet(**kwargs) -> MobileNetV2TSM_MS:
    torch.manual_seed(0)
    kwargs.setdefault('pretrained', None)
    model = MobileNetV2TSM_MS(**kwargs)
    model.init_weights()
    return model


def _frames(clips: int, num_segments: int = 8, size: int = 64) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(clips * num_segments, 3, size, size)


def test_mobilenet_default_ms_after_layer3_with_its_channels():
    model = _mobilenet()
    assert [name for name, _ in model.ms_modules()] == ['ms_layer3']
    module = model.ms_layer3
    assert isinstance(module, MotionSqueeze)
    assert (module.in_channels, module.num_segments) == (32, 8)
    stock = MobileNetV2TSM(pretrained2d=False)
    assert _num_params(model) - _num_params(stock) == _num_params(module)


@pytest.mark.parametrize('widen_factor, channels', [
    (1.0, [16, 24, 32, 64, 96, 160, 320, 1280]),
    (0.5, [8, 16, 16, 32, 48, 80, 160, 1280]),
])
def test_mobilenet_ms_after_every_stage_gets_that_stages_channels(widen_factor, channels):
    model = _mobilenet(ms_stages=tuple(range(8)), widen_factor=widen_factor,
                       num_segments=2, out_indices=tuple(range(8)))
    assert [m.in_channels for _, m in model.ms_modules()] == channels
    assert [name for name, _ in model.ms_modules()] == \
        [f'ms_layer{i}' for i in range(1, 8)] + ['ms_conv2']
    outs = model.train()(_frames(2, num_segments=2, size=64))
    assert [o.shape[1] for o in outs] == channels
    sum(o.mean() for o in outs).backward()
    no_grad = [name for name, p in model.named_parameters() if p.grad is None]
    assert not no_grad


def test_mobilenet_stock_checkpoint_loads_with_only_ms_keys_missing(tmp_path):
    stock = MobileNetV2TSM(pretrained2d=False)
    path = tmp_path / 'tsm_mobilenetv2.pth'
    torch.save(dict(state_dict=stock.state_dict()), path)
    model = MobileNetV2TSM_MS(pretrained=str(path), pretrained2d=False, ms_stages=(2, 4))
    missing, unexpected = model.load_state_dict(stock.state_dict(), strict=False)
    assert unexpected == [] and missing
    assert all(key.startswith(('ms_layer3.', 'ms_layer5.')) for key in missing)
    torch.manual_seed(3)
    model.init_weights()  # the Pretrained init_cfg path MobileNetV2TSM sets
    torch.testing.assert_close(model.layer4[1].conv[0].net.conv.weight,
                               stock.layer4[1].conv[0].net.conv.weight)
    ms_norms = [m for m in model.ms_layer3.modules() if isinstance(m, _BatchNorm)]
    assert all(torch.all(m.weight == 1) for m in ms_norms)  # at their own init


def test_mobilenet_pretrained2d_loads_a_2d_mobilenet_and_leaves_ms_at_init(tmp_path):
    torch.manual_seed(2)
    plain = MobileNetV2()
    for m in plain.modules():  # non-default statistics, to see them arrive
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.weight.data.uniform_(0.5, 1.5)
    path = tmp_path / 'mobilenet_v2.pth'
    torch.save(dict(state_dict=plain.state_dict()), path)
    model = MobileNetV2TSM_MS(pretrained=str(path), pretrained2d=True)
    for param in model.ms_layer3.parameters():
        param.data.fill_(3.0)
    model.init_weights()
    # A shifted conv: the 2D key has no `.net`.
    torch.testing.assert_close(model.layer3[1].conv[0].net.conv.weight,
                               plain.layer3[1].conv[0].conv.weight)
    torch.testing.assert_close(model.layer6[0].conv[1].bn.running_mean,
                               plain.layer6[0].conv[1].bn.running_mean)
    assert not torch.any(model.ms_layer3.reduce.conv.weight == 3.0)
    for m in model.ms_layer3.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_mobilenet_pretrained2d_refuses_a_file_of_another_model(tmp_path):
    path = tmp_path / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), path)
    model = MobileNetV2TSM_MS(pretrained=str(path), pretrained2d=True)
    with pytest.raises(RuntimeError, match=r'missing keys[\s\S]*unexpected keys \(\d+\): bn1'):
        model.init_weights()


# ================================================================ 3D ResNets
def _resnet3d(cls=ResNet3dSlowOnly_MS, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('depth', 18)
    kwargs.setdefault('pretrained', None)
    model = cls(**kwargs)
    model.init_weights()
    return model


def _clips(n: int = 2, t: int = 8, size: int = 32) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(n, 3, t, size, size)


R2PLUS1D = dict(pretrained2d=False, conv_cfg=dict(type=Conv2plus1d), conv1_stride_t=1,
                base_channels=16)
# (class, backbone arguments, expected T after each stage)
TEMPORAL_CASES = [
    (ResNet3dSlowOnly_MS, dict(), [8, 8, 8, 8]),
    (ResNet3d_MS, dict(), [8, 4, 4, 4]),  # with_pool2 halves T after layer1
    (ResNet3d_MS, dict(with_pool2=False, temporal_strides=(1, 2, 2, 1)), [8, 4, 2, 2]),
    (ResNet3d_MS, dict(clip_len=16, conv1_kernel=(5, 7, 7), conv1_stride_t=2,
                       pool1_stride_t=2, with_pool2=False), [4, 4, 4, 4]),
    (ResNet3dSlowOnly_MS, dict(clip_len=7, conv1_stride_t=2, temporal_strides=(1, 1, 2, 1)),
     [4, 4, 2, 2]),
    (ResNet3d_MS, dict(clip_len=6, inflate=(1, 0, 1, 0), inflate_style='3x3x3',
                       with_pool2=False, temporal_strides=(1, 1, 2, 1)), [6, 6, 3, 3]),
    # R(2+1)D's forward runs maxpool always and skips pool2 (ResNet3d's rule: [8, 4, 2, 2]).
    (ResNet2Plus1d_MS, dict(R2PLUS1D, with_pool1=False, pool1_stride_t=2,
                            temporal_strides=(1, 1, 2, 1)), [4, 4, 2, 2]),
]


@pytest.mark.parametrize('cls, kwargs, frames', TEMPORAL_CASES)
def test_3d_ms_module_t_is_the_stages_actual_t(cls, kwargs, frames):
    stages = tuple(i for i, t in enumerate(frames) if t >= 2)
    model = _resnet3d(cls, ms_stages=stages, **kwargs).eval()
    assert [model.stage_frames(i) for i in range(4)] == frames
    assert [m.num_segments for _, m in model.ms_modules()] == [frames[i] for i in stages]
    seen = {}
    for name, module in model.ms_modules():
        module.register_forward_pre_hook(
            lambda mod, args, name=name: seen.__setitem__(name, args[0].shape))
    with torch.no_grad():
        model(_clips(t=model.clip_len))
    for stage in stages:  # [N*T, C, H, W] inside the module
        shape = seen[f'ms_layer{stage + 1}']
        assert shape[0] == 2 * frames[stage]
        assert shape[1] == model.stage_specs()[stage].channels == model.base_channels * 2**stage


def test_3d_ms_runs_on_each_clips_frames_in_time_order():
    torch.manual_seed(0)
    module = MotionSqueeze(in_channels=16, num_segments=4, max_displacement=2).eval()
    x = torch.randn(3, 16, 4, 6, 6)  # [N, C, T, H, W]
    with torch.no_grad():
        out = motion_squeeze_clips(module, x)
        frames = x.permute(0, 2, 1, 3, 4).reshape(12, 16, 6, 6)  # clip-major frames
        expected = module(frames).reshape(3, 4, 16, 6, 6).permute(0, 2, 1, 3, 4)
        alone = torch.cat([motion_squeeze_clips(module, clip[None]) for clip in x])
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(out, alone, rtol=1e-5, atol=1e-6)
    assert out.is_contiguous()


def test_3d_stock_checkpoint_loads_with_only_ms_keys_missing(tmp_path):
    stock = ResNet3dSlowOnly(depth=18, pretrained=None)
    torch.manual_seed(5)
    for param in stock.parameters():
        param.data.normal_()
    path = tmp_path / 'slowonly_r18.pth'
    torch.save(dict(state_dict=stock.state_dict()), path)
    model = ResNet3dSlowOnly_MS(depth=18, pretrained=str(path), pretrained2d=False)
    for param in model.ms_layer2.parameters():
        param.data.fill_(3.0)
    model.init_weights()
    for key, value in stock.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    assert not torch.any(model.ms_layer2.reduce.conv.weight == 3.0)  # its own init


def test_3d_checkpoint_of_the_ms_backbone_restores_its_ms_modules(tmp_path):
    trained = _resnet3d(ResNet3dSlowOnly_MS)
    for param in trained.ms_layer2.parameters():
        param.data.fill_(0.25)
    path = tmp_path / 'slowonly_ms.pth'
    torch.save(dict(state_dict=trained.state_dict()), path)
    model = ResNet3dSlowOnly_MS(depth=18, pretrained=str(path), pretrained2d=False)
    model.init_weights()
    assert torch.all(model.ms_layer2.reduce.conv.weight == 0.25)


def test_3d_pretrained2d_inflates_a_2d_resnet_and_leaves_ms_at_init(tmp_path):
    torch.manual_seed(2)
    tv = torchvision.models.resnet18()
    path = tmp_path / 'resnet18_tv.pth'
    torch.save(tv.state_dict(), path)
    model = ResNet3dSlowOnly_MS(depth=18, pretrained=str(path), pretrained2d=True,
                                ms_stages=(1, 2))
    for param in model.ms_layer3.parameters():
        param.data.fill_(3.0)
    model.init_weights()
    # layer3 is inflated (3x1x1): the 2D kernel spread over 3 frames.
    weight = model.layer3[1].conv1.conv.weight
    torch.testing.assert_close(weight.sum(dim=2), tv.state_dict()['layer3.1.conv1.weight'])
    torch.testing.assert_close(model.layer2[0].conv1.conv.weight[:, :, 0],
                               tv.state_dict()['layer2.0.conv1.weight'])
    assert not torch.any(model.ms_layer3.reduce.conv.weight == 3.0)
    # The MS modules are back after the inflation, in their place.
    assert [name for name, _ in model.named_children()][-2:] == ['ms_layer2', 'ms_layer3']


def test_3d_ms_norms_are_2d_versions_of_the_backbones():
    model = _resnet3d(norm_cfg=dict(type='BN3d', requires_grad=True))
    assert isinstance(model.layer1[0].conv1.bn, nn.BatchNorm3d)
    assert isinstance(model.ms_layer2.reduce.bn, nn.BatchNorm2d)


def test_3d_too_few_frames_at_a_stage_is_a_clear_error():
    with pytest.raises(ValueError, match=r'T=1 .*T >= 2.*earlier stage or a longer clip'):
        ResNet3d_MS(depth=18, pretrained=None, clip_len=4, temporal_strides=(1, 2, 2, 2),
                    ms_stages=(3, ))


def test_3d_clip_of_another_length_is_a_clear_error():
    model = _resnet3d().eval()
    with pytest.raises(ValueError, match='clip_len'):
        model(_clips(t=4))
