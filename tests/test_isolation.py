"""Per-clip isolation: a NaN or inf in one clip changes no other clip's output or input gradient."""
import pytest
import torch

from ms_plugin.models import MotionSqueeze
from ms_plugin.models.backbones import ResNetTSM_MS

T = 3  # frames per clip; 3 clips per batch, the middle one gets the bad value


def _freeze_norms(model):
    """Train mode with the BatchNorms in eval (frozen statistics), as ``norm_eval``."""
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    return model


def _outputs_and_grads(model, x):
    x = x.clone().requires_grad_(True)
    out = model(x)
    out.backward(torch.ones_like(out))  # the gradient of the sum of all outputs
    return out.detach(), x.grad


def _check_isolation(model, x, bad, where):
    """Clips 0 and 2 get the same output and input gradient with a bad value in clip 1."""
    clean_out, clean_grad = _outputs_and_grads(model, x)
    assert torch.isfinite(clean_out).all() and torch.isfinite(clean_grad).all()
    spoiled = x.clone()
    spoiled[(T, ) + where] = bad  # frame 0 of clip 1
    out, grad = _outputs_and_grads(model, spoiled)
    assert not torch.isfinite(out[T:2 * T]).all()  # the bad value reached its own clip
    for clip in (0, 2):
        frames = slice(clip * T, (clip + 1) * T)
        assert torch.equal(out[frames], clean_out[frames]), clip
        assert torch.equal(grad[frames], clean_grad[frames]), clip


BAD = [float('nan'), float('inf'), -float('inf')]
# (channel, y, x): the centre of a map and its corner.
PLACES = {'centre': (0, 3, 3), 'corner': (1, 0, 0)}


@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('place', PLACES)
@pytest.mark.parametrize('mode', ['eval', 'frozen_norms'])
@pytest.mark.parametrize('impl', ['fused', 'strided', 'allpairs'])
def test_motion_squeeze_isolates_clips(bad, place, mode, impl):
    torch.manual_seed(0)
    model = MotionSqueeze(8, T, reduced_channels=8, max_displacement=2, correlation_impl=impl)
    model = model.eval() if mode == 'eval' else _freeze_norms(model)
    _check_isolation(model, torch.randn(3 * T, 8, 7, 7), bad, PLACES[place])


@pytest.mark.parametrize('bad', BAD[:2])
@pytest.mark.parametrize('place', PLACES)
@pytest.mark.parametrize('mode', ['eval', 'frozen_norms'])
def test_backbone_isolates_clips(bad, place, mode):
    torch.manual_seed(0)
    model = ResNetTSM_MS(depth=18, num_segments=T, pretrained=None, pretrained2d=False,
                         ms_cfg=dict(max_displacement=2))
    model.init_weights()
    model = model.eval() if mode == 'eval' else _freeze_norms(model)
    _check_isolation(model, torch.randn(3 * T, 3, 64, 64), bad, PLACES[place])
