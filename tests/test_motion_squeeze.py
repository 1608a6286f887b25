"""Tests of the registered MotionSqueeze module."""
import pytest
import torch
from mmaction.registry import MODELS

from ms_plugin.models import MotionSqueeze, capture_motion
from conftest import randomize_norms


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('in_channels,expected', [(512, 70905), (128, 20985)])
def test_parameter_count_matches_reference(in_channels, expected):
    assert n_params(MotionSqueeze(in_channels, 8)) == expected


def test_registered_and_built_from_config():
    module = MODELS.build(dict(type='MotionSqueeze', in_channels=32, num_segments=4,
                               max_displacement=3, soft_argmax='plain'))
    assert isinstance(module, MotionSqueeze)
    assert module.max_displacement == 3 and module.soft_argmax == 'plain'


def test_forward_shape_and_residual():
    module = MotionSqueeze(16, 4, reduced_channels=8, max_displacement=3)
    x = torch.randn(2 * 4, 16, 7, 9)
    out = module(x)
    assert out.shape == x.shape
    # The transform ends in ReLU, so the sum is never below the input.
    assert (out >= x - 1e-6).all() and not torch.equal(out, x)


def test_every_parameter_gets_a_gradient():
    module = MotionSqueeze(16, 3, reduced_channels=8, max_displacement=2)
    x = torch.randn(2 * 3, 16, 6, 6, requires_grad=True)
    module(x).square().sum().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad is not None


def _identity_reduce(module):
    """Make the 1x1 reduction an identity (BN in eval with unit statistics)."""
    with torch.no_grad():
        weight = module.reduce.conv.weight
        weight.zero_()
        weight[:, :, 0, 0] = torch.eye(weight.shape[0])
    module.eval()


def test_motion_of_a_shifted_clip():
    t, c = 3, 16
    module = MotionSqueeze(c, t, reduced_channels=c, max_displacement=4)
    _identity_reduce(module)
    frame = torch.rand(1, c, 20, 22)  # non-negative: passes the ReLU unchanged
    # Frame t+1 is frame t moved by (dx, dy) = (2, -1), then (1, 3).
    clip = [frame, torch.roll(frame, (-1, 2), (2, 3))]
    clip.append(torch.roll(clip[1], (3, 1), (2, 3)))
    motion = module.estimate_motion(torch.cat(clip))
    assert motion.shape == (t, 3, 20, 22)
    inner = (slice(6, 14), slice(6, 16))
    expected = [(2, -1), (1, 3), (1, 3)]  # the last frame repeats the last pair
    for i, (dx, dy) in enumerate(expected):
        assert torch.allclose(motion[i, 0][inner], torch.tensor(dx / 4), atol=1e-3)
        assert torch.allclose(motion[i, 1][inner], torch.tensor(dy / 4), atol=1e-3)
        assert (motion[i, 2][inner] > 0.99).all()


def test_clips_are_not_mixed():
    # Two clips in one batch: the motion of clip 0 must not depend on clip 1.
    module = MotionSqueeze(8, 2, reduced_channels=8, max_displacement=2).eval()
    a = torch.randn(2, 8, 5, 5)
    b = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        alone = module.estimate_motion(a)
        together = module.estimate_motion(torch.cat([a, b]))
    torch.testing.assert_close(together[:2], alone)


def test_capture_motion_collects_each_forward_and_keeps_nothing_after():
    module = MotionSqueeze(8, 2, reduced_channels=4, max_displacement=2)
    x = torch.randn(4, 8, 5, 6, requires_grad=True)
    module(x)
    assert module.motion_sink is None  # nothing kept by default
    with capture_motion(module) as motion:
        module(x)
        module(x[:2])
    assert module.motion_sink is None
    (first, second), = motion.values()
    assert first.shape == (4, 3, 5, 6) and second.shape == (2, 3, 5, 6)
    assert not first.requires_grad
    assert first[:, :2].abs().max() <= 1.0
    torch.testing.assert_close(first, module.estimate_motion(x).detach())


def test_capture_motion_needs_a_module():
    with pytest.raises(ValueError, match='no MotionSqueeze module'):
        with capture_motion(torch.nn.Conv2d(3, 3, 1)):
            pass


def test_without_confidence_uses_two_channels():
    module = MotionSqueeze(8, 2, use_confidence=False, reduced_channels=4, max_displacement=1)
    assert module.transform[0].depthwise.conv.in_channels == 2
    with capture_motion(module) as motion:
        assert module(torch.randn(4, 8, 3, 3)).shape == (4, 8, 3, 3)
    assert motion[''][0].shape[1] == 3  # still captured for visualisation


def test_configurable_transform():
    module = MotionSqueeze(24, 2, transform_channels=(4, 8), transform_kernel_sizes=(5, 3, 1))
    assert len(module.transform) == 3
    assert module.transform[0].depthwise.conv.kernel_size == (5, 5)
    assert module.transform[-1].pointwise.conv.out_channels == 24
    assert module(torch.randn(4, 24, 6, 6)).shape == (4, 24, 6, 6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_segments=1), 'num_segments >= 2'),
    (dict(soft_argmax='max'), 'soft_argmax'),
    (dict(transform_kernel_sizes=(7, 3)), 'transform_kernel_sizes'),
    (dict(transform_kernel_sizes=(7, 3, 4, 3)), 'odd'),
    (dict(temperature=0.0), 'temperature must be positive'),
    (dict(sigma=0.0), 'sigma must be positive'),
])
def test_bad_arguments(kwargs, match):
    args = dict(in_channels=8, num_segments=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MotionSqueeze(**args)


@pytest.mark.parametrize('shape,match', [
    ((6, 8, 4, 4), 'not a multiple of num_segments=4'),
    ((8, 6, 4, 4), 'in_channels=8'),
    ((8, 8, 4), '3-D'),
])
def test_bad_input(shape, match):
    module = MotionSqueeze(8, 4, max_displacement=1)
    with pytest.raises(ValueError, match=match):
        module(torch.randn(shape))


@pytest.mark.parametrize('train', [False, True])
def test_bfloat16_autocast_gives_the_float32_motion(train):
    # The 1x1 reduction and the matching run in float32 under autocast, so the
    # motion map is float32's (bf16 features moved it by ~10 %).
    module = MotionSqueeze(256, 4, max_displacement=3).train(train)
    randomize_norms(module)
    x = torch.randn(8, 256, 8, 8)
    with torch.no_grad(), capture_motion(module) as ref:
        module(x)
        ref_motion = module.estimate_motion(x)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16), \
            capture_motion(module) as motion:
        out = module(x)
        estimated = module.estimate_motion(x)
    assert torch.isfinite(out).all() and out.dtype == torch.float32
    assert estimated.dtype == torch.float32
    assert (estimated - ref_motion).abs().max() <= 1e-3
    assert (motion[''][0] - ref[''][0]).abs().max() <= 1e-3


def test_bfloat16_features_under_autocast_are_reduced_in_float32():
    module = MotionSqueeze(64, 2, max_displacement=2).eval()
    x = torch.randn(4, 64, 6, 6).bfloat16()
    with torch.no_grad():
        ref = module.estimate_motion(x.float())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            motion = module.estimate_motion(x)
    assert (motion - ref).abs().max() <= 1e-3


def test_multi_view_batches():
    # 2 clips x 6 views x T frames: any batch of whole clips works.
    module = MotionSqueeze(8, 3, reduced_channels=4, max_displacement=1)
    assert module(torch.randn(2 * 6 * 3, 8, 4, 4)).shape == (36, 8, 4, 4)


def test_init_weights_resets_every_block():
    module = MotionSqueeze(16, 2, reduced_channels=8)
    for param in module.parameters():
        param.data.fill_(0.123)
    module.init_weights()
    pointwise = module.transform[2].pointwise
    assert torch.equal(pointwise.bn.weight, torch.ones_like(pointwise.bn.weight))
    assert torch.equal(pointwise.bn.bias, torch.zeros_like(pointwise.bn.bias))
    assert not torch.allclose(pointwise.conv.weight, torch.tensor(0.123))
    assert not torch.allclose(module.reduce.conv.weight, torch.tensor(0.123))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('channels_last', [False, True])
def test_eval_output_is_bitwise_the_same_with_and_without_autograd(dtype, channels_last):
    # One computation: grad mode, memory format and dtype choose no other path.
    module = MotionSqueeze(64, 3, reduced_channels=16, max_displacement=3).to(dtype).eval()
    randomize_norms(module)
    x = torch.randn(6, 64, 7, 9, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    before = x.clone()
    with torch.no_grad():
        plain = module(x)
    with torch.inference_mode():
        inference = module(x)
    traced = module(x.clone().requires_grad_())
    assert torch.equal(plain, traced.detach())
    assert torch.equal(plain, inference)
    assert torch.equal(x, before)


def test_fuse_conv_bn_matches_the_unfused_module():
    from ms_plugin.models import fuse_conv_bn
    module = MotionSqueeze(64, 2, reduced_channels=16, max_displacement=2).eval()
    randomize_norms(module)
    x = torch.randn(4, 64, 6, 6)
    with torch.no_grad():
        expected = module(x)
        fuse_conv_bn(module)
        fused = module(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match='eval mode'):
        fuse_conv_bn(module.train())


def test_module_compiles_without_graph_breaks_in_both_paths():
    # Evaluation and training both trace into one graph.
    torch._dynamo.reset()
    module = MotionSqueeze(256, 2, reduced_channels=64, max_displacement=2)
    compiled = torch.compile(module, backend='aot_eager', fullgraph=True)
    x = torch.randn(4, 256, 6, 6)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x))
    module.train()
    out = compiled(x)
    torch.testing.assert_close(out, module(x))
    out.sum().backward()
    assert module.reduce.conv.weight.grad is not None
