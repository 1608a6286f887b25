"""ResNetTSM_MS: placement and size of the MS modules, initialisation, and the
ResNet options of its own (temporal_pool, partial_bn, multi-view batches,
torch.compile). What every MS backbone shares (with_cp, norm_eval,
frozen_stages, equality with the stock backbone, checkpoints) is in
tests/test_backbone_contract.py."""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
import pytest
import torch
import torch.nn as nn
import torchvision
from mmaction.models.backbones.resnet_tsm import ResNetTSM
from torch.nn.modules.batchnorm import _BatchNorm

from ms_plugin.models import MotionSqueeze
from ms_plugin.models.backbones import ResNetTSM_MS


def _backbone(depth: int = 18, **kwargs) -> ResNetTSM_MS:
    torch.manual_seed(0)
    kwargs.setdefault('pretrained', None)
    model = ResNetTSM_MS(depth, **kwargs)
    model.init_weights()
    return model


def _frames(clips: int, num_segments: int = 8, size: int = 32) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(clips * num_segments, 3, size, size)


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('depth, channels, ms_params', [(18, 128, 20985), (50, 512, 70905)])
def test_one_ms_module_after_res3_with_the_reference_size(depth, channels, ms_params):
    model = _backbone(depth)
    assert [name for name, _ in model.ms_modules()] == ['ms_layer2']
    module = model.ms_layer2
    assert isinstance(module, MotionSqueeze)
    assert (module.in_channels, module.num_segments) == (channels, 8)
    # Parameter cost of one MS module quoted in the reference notes.
    assert _num_params(module) == ms_params
    stock = ResNetTSM(depth, pretrained2d=False)
    assert _num_params(model) - _num_params(stock) == ms_params


def test_pretrained_none_with_pretrained2d_initialises_from_scratch():
    # ResNetTSM itself crashes here (it loads torchvision weights from None).
    torch.manual_seed(0)
    model = ResNetTSM_MS(18, pretrained=None, pretrained2d=True)
    for _, param in model.named_parameters():
        param.data.fill_(3.0)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    assert model.layer1[0].conv1.conv.net.weight.std() < 1.0
    assert model.ms_layer2.reduce.conv.weight.std() < 1.0


def test_pretrained_local_torchvision_file_loads_resnet_and_leaves_ms_at_init(tmp_path):
    torch.manual_seed(2)
    tv = torchvision.models.resnet18()
    for m in tv.modules():  # non-default statistics, to see them arrive
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.weight.data.uniform_(0.5, 1.5)
    path = tmp_path / 'resnet18_tv.pth'
    torch.save(tv.state_dict(), path)

    model = ResNetTSM_MS(18, pretrained=str(path), pretrained2d=True)
    for param in model.ms_layer2.parameters():
        param.data.fill_(3.0)
    model.init_weights()

    tv_state = tv.state_dict()
    torch.testing.assert_close(model.conv1.conv.weight, tv_state['conv1.weight'])
    torch.testing.assert_close(model.conv1.bn.weight, tv_state['bn1.weight'])
    torch.testing.assert_close(model.layer2[1].conv2.conv.weight,
                               tv_state['layer2.1.conv2.weight'])
    torch.testing.assert_close(model.layer3[0].downsample.bn.running_mean,
                               tv_state['layer3.0.downsample.1.running_mean'])
    # The shifted convs are wrapped (`.net`) and still receive their weights.
    torch.testing.assert_close(model.layer4[1].conv1.conv.net.weight,
                               tv_state['layer4.1.conv1.weight'])
    ms = model.ms_layer2
    for m in ms.modules():
        if isinstance(m, _BatchNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
            assert torch.all(m.running_mean == 0) and torch.all(m.running_var == 1)
    assert not torch.any(ms.reduce.conv.weight == 3.0)  # re-initialised, not left as is


@pytest.mark.parametrize('ms_stages', [(1, ), (0, 1, 3)])
def test_temporal_pool_gives_ms_modules_the_pooled_segment_count(ms_stages):
    model = _backbone(18, temporal_pool=True, ms_stages=ms_stages).eval()
    expected = {f'ms_layer{s + 1}': 8 if s == 0 else 4 for s in ms_stages}
    assert {name: m.num_segments for name, m in model.ms_modules()} == expected
    with torch.no_grad():
        out = model(_frames(2))
    assert out.shape == (2 * 4, 512, 1, 1)


def test_partial_bn_freezes_pretrained_norms_but_trains_the_ms_norms():
    model = _backbone(18, partial_bn=True).train()
    assert model.conv1.bn.training and model.conv1.bn.weight.requires_grad
    assert not model.layer3[0].conv1.bn.training
    assert not model.layer3[0].conv1.bn.weight.requires_grad
    ms_norms = [m for m in model.ms_layer2.modules() if isinstance(m, _BatchNorm)]
    assert ms_norms and all(m.training and m.weight.requires_grad for m in ms_norms)


def test_multi_view_batch_matches_each_view_alone():
    # A test batch of 2 samples x 6 views (twice_sample x ThreeCrop) x 8 frames.
    model = _backbone(18).eval()
    x = _frames(2 * 6)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(view) for view in x.split(8)])
    assert together.shape == (96, 512, 1, 1)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_ms_cfg_reaches_the_modules_and_norm_cfg_follows_the_backbone():
    model = _backbone(18, ms_cfg=dict(max_displacement=3, soft_argmax='hard'),
                      norm_cfg=dict(type='BN2d', requires_grad=False))
    module = model.ms_layer2
    assert (module.max_displacement, module.soft_argmax) == (3, 'hard')
    assert not module.reduce.bn.weight.requires_grad


def test_backbone_compiles_and_matches_eager_in_eval_and_training():
    # torch.compile of the whole backbone (shifts, MS module, residual stages);
    # aot_eager traces it as inductor would, without a C++ build.
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = ResNetTSM_MS(depth=18, num_segments=2, pretrained=None, pretrained2d=False)
    model.init_weights()
    compiled = torch.compile(model, backend='aot_eager')
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    model.train()
    out = compiled(x)
    out.sum().backward()
    assert model.ms_layer2.reduce.conv.weight.grad is not None
    torch.testing.assert_close(out, model(x), rtol=1e-4, atol=1e-4)
    # The MS module ran in the compiled graph: without it the output differs.
    tsm = ResNetTSM_MS(depth=18, num_segments=2, ms_stages=(), pretrained=None,
                       pretrained2d=False)
    tsm.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():
        assert not torch.allclose(compiled(x), tsm.train()(x), atol=1e-4)
