"""Tests for ms_plugin.ops.temporal_shift: a naive loop, MMAction2's TSM, gradients."""
import pytest
import torch

from ms_plugin.ops.temporal_shift import temporal_shift


def naive_shift(x: torch.Tensor, num_segments: int, shift_div: int) -> torch.Tensor:
    """Frame-by-frame, channel-by-channel reading of the TSM definition."""
    out = torch.zeros_like(x)
    fold = x.shape[1] // shift_div
    for clip in range(x.shape[0] // num_segments):
        for t in range(num_segments):
            i = clip * num_segments + t
            for c in range(x.shape[1]):
                if c < fold:
                    if t + 1 < num_segments:
                        out[i, c] = x[i + 1, c]
                elif c < 2 * fold:
                    if t >= 1:
                        out[i, c] = x[i - 1, c]
                else:
                    out[i, c] = x[i, c]
    return out


@pytest.mark.parametrize('num_segments,shift_div,channels,spatial', [
    (4, 8, 16, (3, 5)),
    (3, 4, 10, (2, 2)),  # C not a multiple of shift_div
    (1, 8, 16, (2, 2)),  # a single frame: the shifted folds are all zero
    (5, 2, 6, ()),  # no spatial dims: [N*T, C]
    (2, 8, 7, (2, 2)),  # fold == 0: identity
])
def test_matches_naive_loop(num_segments, shift_div, channels, spatial):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2 * num_segments, channels, *spatial, generator=gen)
    out = temporal_shift(x, num_segments, shift_div)
    assert out.shape == x.shape
    torch.testing.assert_close(out, naive_shift(x, num_segments, shift_div), rtol=0, atol=0)
    assert not torch.equal(out, x) or channels // shift_div == 0


def test_matches_mmaction_tsm():
    from mmaction.models.backbones.resnet_tsm import TemporalShift
    x = torch.randn(16, 24, 3, 3, generator=torch.Generator().manual_seed(1))
    expected = TemporalShift.shift(x, num_segments=8, shift_div=8)
    torch.testing.assert_close(temporal_shift(x, 8, 8), expected, rtol=0, atol=0)


def test_does_not_modify_input_and_is_differentiable():
    x = torch.randn(6, 8, 2, 2, dtype=torch.float64, requires_grad=True)
    before = x.detach().clone()
    temporal_shift(x, 3, 4).sum().backward()
    assert torch.equal(x.detach(), before)
    # Each input element lands at most once in the output: gradients are 0 or 1;
    # the first fold of frame 0 and the second fold of the last frame are dropped.
    grad = x.grad.reshape(2, 3, 8, 2, 2)
    assert torch.all(grad[:, 0, :2] == 0) and torch.all(grad[:, 1:, :2] == 1)
    assert torch.all(grad[:, -1, 2:4] == 0) and torch.all(grad[:, :-1, 2:4] == 1)
    assert torch.all(grad[:, :, 4:] == 1)
    assert torch.autograd.gradcheck(lambda t: temporal_shift(t, 3, 4), (x,))


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_segments=3), 'multiple of num_segments'),
    (dict(num_segments=0), 'num_segments must be'),
    (dict(num_segments=2, shift_div=1), 'shift_div must be'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        temporal_shift(torch.zeros(4, 8, 2, 2), **kwargs)
