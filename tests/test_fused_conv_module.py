"""Tests of the inference-time conv + BatchNorm folding."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from ms_plugin.models import FusedConvModule
from ms_plugin.ops import fold_batch_norm, pointwise_conv, pointwise_conv_relu_add


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def randomise_norm(module):
    """Non-trivial running statistics and affine parameters, so a wrong fold shows."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_()
                m.running_var.uniform_(0.2, 3.0)
                if m.affine:
                    m.weight.normal_()
                    m.bias.normal_()
    return module


@pytest.mark.parametrize('bias,affine', [(False, True), (True, True), (True, False)])
def test_fold_batch_norm_equals_conv_then_norm(bias, affine):
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, bias=bias).double()
    bn = randomise_norm(torch.nn.BatchNorm2d(6, affine=affine).double().eval())
    x = torch.randn(2, 4, 5, 7, dtype=torch.float64)
    weight, shift = fold_batch_norm(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                    bn.weight, bn.bias, bn.eps)
    torch.testing.assert_close(F.conv2d(x, weight, shift, padding=1), bn(conv(x)))


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('with_bias', [False, True])
def test_pointwise_conv_equals_conv2d(channels_last, with_bias):
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(7, 5, 1, 1, dtype=torch.float64)
    bias = torch.randn(7, dtype=torch.float64) if with_bias else None
    out = pointwise_conv(x, weight, bias)
    torch.testing.assert_close(out, F.conv2d(x, weight, bias))
    assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('grad', [False, True])
def test_pointwise_conv_relu_add_equals_the_unfused_sum(grad):
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    weight = torch.randn(6, 5, 1, 1, dtype=torch.float64)
    bias = torch.randn(6, dtype=torch.float64)
    residual = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    before = residual.clone()
    with torch.set_grad_enabled(grad):
        out = pointwise_conv_relu_add(x, weight, bias, residual)
    torch.testing.assert_close(out, F.conv2d(x, weight, bias).relu() + residual)
    assert torch.equal(residual, before)
    with pytest.raises(ValueError, match='residual'):
        pointwise_conv_relu_add(x, weight, bias, residual[:, :3])


def test_pointwise_conv_rejects_a_wrong_weight():
    with pytest.raises(ValueError, match='pointwise_conv needs'):
        pointwise_conv(torch.zeros(1, 4, 2, 2), torch.zeros(3, 5, 1, 1))


# in_channels * out_channels >= 64 * 256 takes the matrix-product path on CPU.
@pytest.mark.parametrize('in_channels,out_channels,kernel,groups,stride,act', [
    (256, 64, 1, 1, 1, dict(type='ReLU')),   # wide 1x1: matrix product
    (8, 16, 1, 1, 1, dict(type='ReLU')),     # narrow 1x1: folded conv2d (linear if channels-last)
    (12, 12, 3, 12, 1, dict(type='ReLU')),   # depthwise 3x3
    (6, 10, 3, 1, 2, None),                  # strided, no activation
])
@pytest.mark.parametrize('channels_last', [False, True])
def test_folded_inference_equals_conv_module(in_channels, out_channels, kernel, groups,
                                             stride, act, channels_last):
    module = FusedConvModule(in_channels, out_channels, kernel, stride=stride,
                             padding=kernel // 2, groups=groups, bias=False,
                             norm_cfg=dict(type='BN'), act_cfg=act).double()
    randomise_norm(module).eval()
    x = torch.randn(2, in_channels, 5, 6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert module._can_fold(x, norm=True)
        folded = module(x)
        unfolded = ConvModule.forward(module, x)
    torch.testing.assert_close(folded, unfolded)


@pytest.mark.parametrize('in_channels,out_channels,act', [
    (64, 256, dict(type='ReLU')),   # wide 1x1 with ReLU: added inside the matrix product
    (64, 256, dict(type='GELU')),   # other activation: added after it
    (8, 16, dict(type='ReLU')),     # narrow: folded conv2d, then added
])
def test_residual_is_added_after_the_activation(in_channels, out_channels, act):
    module = FusedConvModule(in_channels, out_channels, 1, bias=False,
                             norm_cfg=dict(type='BN'), act_cfg=act).double()
    randomise_norm(module).eval()
    x = torch.randn(2, in_channels, 4, 3, dtype=torch.float64)
    residual = torch.randn(2, out_channels, 4, 3, dtype=torch.float64)
    before = residual.clone()
    expected = ConvModule.forward(module, x) + residual
    with torch.no_grad():
        torch.testing.assert_close(module(x, residual=residual), expected)
    torch.testing.assert_close(module(x, residual=residual), expected)  # training graph
    assert torch.equal(residual, before)


def test_state_dict_keys_are_those_of_conv_module():
    fused = FusedConvModule(4, 8, 1, bias=False, norm_cfg=dict(type='BN'))
    plain = ConvModule(4, 8, 1, bias=False, norm_cfg=dict(type='BN'))
    assert list(fused.state_dict()) == list(plain.state_dict())
    fused.load_state_dict(plain.state_dict())


def test_training_and_gradients_use_the_batch_norm_itself():
    module = randomise_norm(FusedConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN')))
    x = torch.randn(3, 4, 5, 5)
    mean_before = module.bn.running_mean.clone()
    with torch.no_grad():
        module.train()(x)  # training: batch statistics, running stats updated
    assert not torch.equal(module.bn.running_mean, mean_before)
    module.eval()
    assert not module._can_fold(x, norm=True)  # gradients recorded
    with torch.no_grad():
        assert not module._can_fold(x, norm=False)


@pytest.mark.parametrize('case', ['half', 'autocast', 'group_norm'])
def test_cases_that_are_not_folded(case):
    norm_cfg = dict(type='GN', num_groups=2) if case == 'group_norm' else dict(type='BN')
    module = FusedConvModule(4, 8, 1, norm_cfg=norm_cfg).eval()
    x = torch.randn(2, 4, 3, 3)
    if case == 'half':
        module, x = module.to(torch.bfloat16), x.to(torch.bfloat16)
    with torch.no_grad():
        if case == 'autocast':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                assert not module._can_fold(x, norm=True)
                torch.testing.assert_close(module(x), ConvModule.forward(module, x))
        else:
            assert not module._can_fold(x, norm=True)
            torch.testing.assert_close(module(x), ConvModule.forward(module, x))
