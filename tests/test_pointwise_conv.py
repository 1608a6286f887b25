"""PointwiseConv2d and the pointwise_conv op: a 1x1 conv as one batched matrix product."""
import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from ms_plugin.models import MotionSqueeze, PointwiseConv2d, fuse_conv_bn
from ms_plugin.ops import pointwise_conv


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize('bias', [False, True])
@pytest.mark.parametrize('channels_last', [False, True])
def test_pointwise_conv2d_equals_conv2d(bias, channels_last):
    conv = nn.Conv2d(6, 5, 1, bias=bias)
    ours = PointwiseConv2d(6, 5, 1, bias=bias)
    ours.load_state_dict(conv.state_dict())  # the same keys and shapes
    x = torch.randn(3, 6, 7, 4)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out, ref = ours(x1), conv(x2)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    grad = torch.randn_like(ref)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.weight.grad, conv.weight.grad, rtol=1e-5, atol=1e-5)
    if bias:
        torch.testing.assert_close(ours.bias.grad, conv.bias.grad, rtol=1e-5, atol=1e-5)


def test_pointwise_conv_gradcheck():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, 1, 1, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pointwise_conv, (x, weight, bias))


def test_pointwise_conv_rejects_other_convs():
    for kwargs in (dict(kernel_size=3), dict(stride=2), dict(padding=1), dict(groups=2),
                   dict(dilation=2)):
        with pytest.raises(ValueError, match='1x1 conv'):
            PointwiseConv2d(4, 4, **kwargs)
    with pytest.raises(ValueError, match='input channels'):
        pointwise_conv(torch.zeros(1, 3, 2, 2), torch.zeros(4, 5, 1, 1))


def test_fuse_conv_bn_folds_a_pointwise_conv():
    module = ConvModule(6, 5, 1, bias=False, conv_cfg=dict(type=PointwiseConv2d),
                        norm_cfg=dict(type='BN'))
    module.bn.running_mean.uniform_(-1, 1)
    module.bn.running_var.uniform_(0.5, 2)
    module.eval()
    x = torch.randn(2, 6, 3, 3)
    with torch.no_grad():
        ref = module(x)
        fuse_conv_bn(module)
        out = module(x)
    assert isinstance(module.bn, nn.Identity) and isinstance(module.conv, PointwiseConv2d)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_motion_squeeze_runs_its_1x1_convs_as_products():
    ms = MotionSqueeze(16, num_segments=4)
    pointwise = [name for name, m in ms.named_modules() if isinstance(m, PointwiseConv2d)]
    assert pointwise == ['reduce.conv'] + [f'transform.{i}.pointwise.conv' for i in range(4)]
    # The depthwise convs stay convolutions.
    assert all(type(block.depthwise.conv) is nn.Conv2d for block in ms.transform)
