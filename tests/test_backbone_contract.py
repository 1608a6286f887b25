"""The contract of every registered ``*_MS`` backbone, one table entry per family.

Each test runs over every backbone in ``mmaction.registry.MODELS`` whose name
ends in ``_MS``; ``test_every_registered_ms_backbone_has_an_entry`` fails for
one that :data:`FAMILIES` lacks. A new family needs its stages declared
(``stage_specs``) and one line here.
"""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
import copy
from typing import Callable, Dict, NamedTuple, Tuple

import pytest
import timm
import torch
import torch.nn as nn
from mmaction.models.backbones.mobilenet_v2_tsm import MobileNetV2TSM
from mmaction.models.backbones.resnet2plus1d import ResNet2Plus1d
from mmaction.models.backbones.resnet3d import ResNet3d
from mmaction.models.backbones.resnet3d_slowonly import ResNet3dSlowOnly
from mmaction.models.backbones.resnet_tsm import ResNetTSM
from mmaction.models.backbones.swin import SwinTransformer3D
from mmaction.models.common import Conv2plus1d
from mmaction.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ms_plugin.models import MotionSqueeze


class TimmFeatures(nn.Module):
    """timm's own feature extractor, keys under ``model.`` as in TimmTSM_MS."""

    def __init__(self, model_name: str) -> None:
        super().__init__()
        self.model = timm.create_model(model_name, features_only=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[-1]


class Family(NamedTuple):
    """How to build and feed one ``*_MS`` backbone, tiny."""
    kwargs: Dict  # build arguments (the default ms_stages applies)
    stock: Callable[[], nn.Module]  # the stock backbone of the same keys as ms_stages=()
    input_shape: Tuple[int, ...]  # [N*T, 3, H, W] frames or [N, 3, T, H, W] clips
    ms_name: str  # attribute of the default MS module: the keys of existing checkpoints
    frozen: Tuple[int, int]  # (frozen_stages, how many stage_specs that freezes)
    plain: Dict = dict()  # extra arguments under which ms_stages=() is the stock backbone
    cp_kwargs: Dict = dict()  # extra arguments for with_cp (ResNet-18 blocks refuse it)
    # Modules after the last stage that frozen_stages leaves trainable: Swin's output norms
    # norm{i} (its _freeze_stages freezes patch_embed and layers only).
    heads: Tuple[str, ...] = ()


# Tiny Video Swin: one block per stage, T=2 tokens at every stage from 4 frames (patch 2).
SWIN = dict(arch=dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1)),
            patch_size=(2, 4, 4), window_size=(2, 4, 4), drop_path_rate=0., pretrained2d=False)
# R(2+1)D as MMAction2's config has it (no pool2 in its forward, temporal strides 2):
# from 4 frames T=4, 2, 1, 1, so the default MS module after layer2 sees 2 frames.
R2PLUS1D = dict(depth=18, base_channels=16, pretrained=None, pretrained2d=False,
                conv_cfg=dict(type=Conv2plus1d), conv1_stride_t=1, pool1_stride_t=1,
                temporal_strides=(1, 2, 2, 2))
FAMILIES = {
    'ResNetTSM_MS': Family(
        dict(depth=18, num_segments=2, pretrained=None, pretrained2d=False),
        lambda: ResNetTSM(18, num_segments=2, pretrained2d=False), (4, 3, 32, 32),
        'ms_layer2', (2, 2), cp_kwargs=dict(depth=50)),
    'MobileNetV2TSM_MS': Family(
        dict(num_segments=2, pretrained=None, pretrained2d=False),
        lambda: MobileNetV2TSM(num_segments=2, pretrained2d=False), (4, 3, 64, 64),
        'ms_layer3', (3, 3)),
    'ResNet3dSlowOnly_MS': Family(
        dict(depth=18, clip_len=4, pretrained=None),
        lambda: ResNet3dSlowOnly(depth=18, pretrained=None), (2, 3, 4, 32, 32),
        'ms_layer2', (2, 2)),
    'ResNet3d_MS': Family(
        dict(depth=18, clip_len=4, pretrained=None),
        lambda: ResNet3d(depth=18, pretrained=None), (2, 3, 4, 32, 32),
        'ms_layer2', (2, 2)),
    'TimmTSM_MS': Family(
        dict(model_name='resnet18', num_segments=2),
        lambda: TimmFeatures('resnet18'), (4, 3, 64, 64),
        'ms_stage2', (2, 3), plain=dict(shift=False)),
    'SwinTransformer3D_MS': Family(
        dict(SWIN, clip_len=4), lambda: SwinTransformer3D(**SWIN), (2, 3, 4, 32, 32),
        'ms_stage1', (2, 2), heads=('norm3', )),
    'ResNet2Plus1d_MS': Family(
        dict(R2PLUS1D, clip_len=4), lambda: ResNet2Plus1d(**R2PLUS1D), (2, 3, 4, 32, 32),
        'ms_layer2', (2, 2)),
}
REGISTERED = sorted(name for name in MODELS.module_dict if name.endswith('_MS'))


def build(name: str, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    model = MODELS.build(dict(type=name, **{**FAMILIES[name].kwargs, **kwargs}))
    model.init_weights()
    return model


def stock_of(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = FAMILIES[name].stock()
    model.train()  # batch statistics: features of a useful scale from untrained weights
    return model


def inputs(name: str) -> torch.Tensor:
    return torch.randn(FAMILIES[name].input_shape, generator=torch.Generator().manual_seed(1))


def ms_keys(model: nn.Module) -> set:
    """The MS modules' state_dict keys that load_state_dict reports missing."""
    prefixes = tuple(f'{name}.' for name, _ in model.ms_modules())
    return {key for key in model.state_dict()
            if key.startswith(prefixes) and not key.endswith('num_batches_tracked')}


def silence(model: nn.Module) -> None:
    """Make every MS module add exactly zero: its last BN outputs 0 before the ReLU."""
    for _, module in model.ms_modules():
        last_norm = module.transform[-1].pointwise.bn
        nn.init.zeros_(last_norm.weight)
        nn.init.zeros_(last_norm.bias)


def test_every_registered_ms_backbone_has_an_entry():
    assert REGISTERED, 'no *_MS backbone registered'
    assert set(REGISTERED) == set(FAMILIES), 'add the new family to FAMILIES'
    for name in REGISTERED:
        assert MODELS.get(name).__name__ == name  # registry name = class name


@pytest.mark.parametrize('name', REGISTERED)
def test_ms_modules_are_named_after_their_stage_and_keep_the_checkpoint_keys(name):
    model = build(name)
    specs = model.stage_specs()
    assert [n for n, _ in model.ms_modules()] == [f'ms_{specs[i].name}' for i in model.ms_stages]
    assert [n for n, _ in model.ms_modules()] == [FAMILIES[name].ms_name]
    for index, (_, module) in zip(model.ms_stages, model.ms_modules()):
        assert isinstance(module, MotionSqueeze)
        assert (module.in_channels, module.num_segments) == (specs[index].channels,
                                                             specs[index].frames)


@pytest.mark.parametrize('name', REGISTERED)
def test_an_int_ms_stages_is_that_one_stage(name):
    stage = build(name).ms_stages[0]
    model = build(name, ms_stages=stage)
    assert model.ms_stages == (stage, )
    assert [n for n, _ in model.ms_modules()] == [FAMILIES[name].ms_name]


@pytest.mark.parametrize('name', REGISTERED)
def test_without_ms_it_is_the_stock_backbone(name):
    model = build(name, ms_stages=(), **FAMILIES[name].plain).train()
    stock = stock_of(name)
    assert model.ms_modules() == []
    stock.load_state_dict(model.state_dict(), strict=True)  # the same keys, both ways
    model.load_state_dict(stock.state_dict(), strict=True)
    x = inputs(name)
    with torch.no_grad():
        out, expected = model(x), stock(x)
    assert expected.abs().max() > 1e-2
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


@pytest.mark.parametrize('name', REGISTERED)
def test_silenced_ms_is_the_stock_backbone_and_live_ms_changes_it(name):
    model = build(name, **FAMILIES[name].plain).train()
    stock = stock_of(name)
    missing, unexpected = model.load_state_dict(stock.state_dict(), strict=False)
    assert unexpected == [] and set(missing) == ms_keys(model) != set()
    x = inputs(name)
    with torch.no_grad():
        live = model(x)
        silence(model)
        silent, reference = model(x), stock(x)
    torch.testing.assert_close(silent, reference)
    assert (live - reference).abs().max() > 1e-3 * reference.abs().max()


@pytest.mark.parametrize('name', REGISTERED)
def test_checkpoint_of_the_current_layout_loads_strictly(name, tmp_path):
    """Stock keys plus the MS keys under the name existing checkpoints use."""
    model = build(name).eval()
    (_, module), = model.ms_modules()
    torch.manual_seed(3)
    trained = MotionSqueeze(module.in_channels, module.num_segments)
    for param in trained.parameters():
        param.data.normal_()
    state = dict(stock_of(name).state_dict())
    state.update({f'{FAMILIES[name].ms_name}.{k}': v for k, v in trained.state_dict().items()})
    path = tmp_path / 'ms.pth'
    torch.save(state, path)
    model.load_state_dict(torch.load(path), strict=True)
    torch.testing.assert_close(module.reduce.conv.weight, trained.reduce.conv.weight)
    reloaded = build(name).eval()
    reloaded.load_state_dict(model.state_dict(), strict=True)
    x = inputs(name)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize('name', REGISTERED)
def test_every_parameter_gets_a_gradient(name):
    model = build(name).train()
    model(inputs(name)).pow(2).mean().backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


@pytest.mark.parametrize('name', REGISTERED)
def test_with_cp_recomputes_the_ms_modules_with_the_same_gradients(name):
    grads, calls = {}, {}
    for with_cp in (False, True):
        model = build(name, with_cp=with_cp, **FAMILIES[name].cp_kwargs).train()
        (_, module), = model.ms_modules()
        calls[with_cp] = 0

        def count(*_, flag=with_cp):
            calls[flag] += 1

        module.register_forward_pre_hook(count)  # the recompute may stop early
        model(inputs(name).requires_grad_()).sum().backward()
        grads[with_cp] = module.reduce.conv.weight.grad.clone()
    assert calls == {False: 1, True: 2}
    torch.testing.assert_close(grads[True], grads[False])


@pytest.mark.parametrize('name', REGISTERED)
def test_norm_eval_freezes_every_norm_including_the_ms_ones(name):
    model = build(name, norm_eval=True).train()
    (_, module), = model.ms_modules()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and not any(m.training for m in norms)
    assert any(isinstance(m, _BatchNorm) for m in module.modules())
    assert module.reduce.conv.training  # only the norms


@pytest.mark.parametrize('name', REGISTERED)
def test_frozen_stages_freeze_the_stem_and_stages_but_not_the_ms_modules(name):
    frozen_stages, count = FAMILIES[name].frozen
    model = build(name, frozen_stages=frozen_stages).train()
    (_, module), = model.ms_modules()
    assert model.ms_stages[0] < count  # the MS module follows a frozen stage
    stages = [model.get_submodule(spec.module) for spec in model.stage_specs()]
    for index, stage in enumerate(stages):
        assert all(p.requires_grad != (index < count) for p in stage.parameters()), index
    heads = [model.get_submodule(head) for head in FAMILIES[name].heads]
    in_parts = {id(p) for part in [*stages, module, *heads] for p in part.parameters()}
    stem = [p for p in model.parameters() if id(p) not in in_parts]
    assert stem and not any(p.requires_grad for p in stem)
    assert all(p.requires_grad for p in module.parameters())
    assert all(m.training for m in module.modules() if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('name', REGISTERED)
def test_a_deep_copy_runs_its_own_ms_modules(name):
    """EMA hooks deep-copy the model; the copy's stages must run the copy's modules."""
    model = build(name).train()  # batch statistics: features of a useful scale
    twin = copy.deepcopy(model)
    x = inputs(name)
    with torch.no_grad():
        before = model(x)
        torch.testing.assert_close(twin(x), before)
        (_, twin_module), = twin.ms_modules()
        twin_module.transform[-1].pointwise.conv.weight.mul_(3.0)
        assert not torch.allclose(twin(x), before)
        torch.testing.assert_close(model(x), before)


@pytest.mark.parametrize('name', REGISTERED)
@pytest.mark.parametrize('kwargs, message', [
    (dict(ms_stages=(9, )), 'out of range'),
    (dict(ms_stages=(1, 1)), 'twice'),
    (dict(ms_stages=(1.0, )), 'out of range'),
    (dict(ms_cfg=dict(in_channels=8)), 'must not set'),
    (dict(ms_cfg=dict(num_segments=4)), 'num_segments'),
])
def test_bad_ms_settings_are_clear_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type=name, **{**FAMILIES[name].kwargs, **kwargs}))
