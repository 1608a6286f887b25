"""Gradients of the matching and the module: gradcheck, recomputation, double backward,
and one code path for eager, trace and compile."""
import math
import re
from pathlib import Path

import pytest
import torch

import ms_plugin.models.motion_squeeze as ms_module
from ms_plugin.models import MotionSqueeze
from ms_plugin.ops import correlation_motion
from conftest import randomize_norms

PACKAGE = Path(ms_module.__file__).resolve().parents[1]
# Odd and even sizes, a map smaller than the window, a single row, d = 0.
SHAPES = [((2, 2, 5, 4), 2), ((1, 2, 3, 3), 5), ((3, 2, 1, 4), 1), ((1, 2, 4, 3), 0)]
CASES = [shape + ('fused', ) for shape in SHAPES] + [((2, 2, 4, 3), 2, 'allpairs')]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize('shape,d,impl', CASES)
@pytest.mark.parametrize('mode', ['kernel', 'plain'])
def test_gradcheck(shape, d, mode, impl):
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: correlation_motion(a, b, d, 1.5, 3.0, mode, impl), (f1, f2), fast_mode=True)


@pytest.mark.parametrize('shape,d', SHAPES)
@pytest.mark.parametrize('mode', ['kernel', 'plain', 'hard'])
def test_fused_matching_equals_autograds(shape, d, mode):
    # 'fused' (written-out backward) against 'strided' through autograd: values,
    # gradients and second-order gradients.
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(shape[0], 3, *shape[2:], dtype=torch.float64)
    results = []
    for impl in ('strided', 'fused'):
        out = correlation_motion(f1, f2, d, 1.5, 3.0, mode, impl)
        grads = torch.autograd.grad((out * weights).sum(), (f1, f2), create_graph=True)
        second = torch.autograd.grad(sum(g.square().sum() for g in grads), (f1, f2),
                                     allow_unused=True)
        results.append((out, *grads, *[torch.zeros_like(f1) if g is None else g
                                        for g in second]))
    for want, got in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize('mode', ['kernel', 'plain'])
def test_fused_matching_gradgradcheck(mode):
    f1 = torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda a, b: correlation_motion(a, b, 1, 1.5, 3.0, mode, 'fused'), (f1, f2), fast_mode=True)


def _without_checkpoint(monkeypatch):
    """The module's matching through plain autograd (what the checkpoint must equal)."""
    monkeypatch.setattr(ms_module, 'checkpoint',
                        lambda fn, *args, use_reentrant: fn(*args))


def _grads(module, x, penalty=False):
    """Input and parameter gradients of a loss, or of a gradient penalty on it."""
    module.zero_grad()
    x = x.clone().requires_grad_(True)
    loss = module(x).square().sum()
    if penalty:
        grad_x, = torch.autograd.grad(loss, x, create_graph=True)
        loss = grad_x.square().sum()
    loss.backward()
    return [x.grad] + [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize('impl', ['fused', 'strided'])
def test_recomputation_gives_autograds_gradients(monkeypatch, impl):
    # 'fused' recomputes the correlation in its backward, 'strided' through a
    # checkpoint: both against plain autograd of 'strided'.
    module = MotionSqueeze(32, 3, reduced_channels=16, max_displacement=3,
                           correlation_impl=impl).double()
    randomize_norms(module)
    x = torch.randn(6, 32, 9, 8, dtype=torch.float64)
    recomputed = _grads(module, x)
    _without_checkpoint(monkeypatch)
    module.correlation_impl = 'strided'
    for got, want in zip(recomputed, _grads(module, x)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_double_backward_is_that_of_plain_autograd(monkeypatch):
    # A gradient penalty: backward through the gradient of the module's output.
    module = MotionSqueeze(16, 2, reduced_channels=8, max_displacement=2).double()
    randomize_norms(module)
    x = torch.randn(4, 16, 6, 5, dtype=torch.float64)
    recomputed = _grads(module, x, penalty=True)  # 'fused', the default
    assert all(torch.isfinite(g).all() for g in recomputed)
    assert recomputed[1].abs().sum() > 0  # the reduction's weight gets a second-order term
    _without_checkpoint(monkeypatch)
    module.correlation_impl = 'strided'
    for got, want in zip(recomputed, _grads(module, x, penalty=True)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_backward_keeps_no_correlation_sized_tensor():
    import sys
    sys.path.insert(0, str(PACKAGE.parent / 'tools' / 'analysis'))
    from profiling import kept_for_backward
    module = MotionSqueeze(64, 4, max_displacement=3)
    x = torch.randn(8, 64, 10, 10, requires_grad=True)
    kept, _ = kept_for_backward(lambda: module(x))
    shapes = [shape for shape, _ in kept.by_shape]
    # (2d+1)**2 = 49 displacements at each of the 10x10 positions of a map
    assert not any(49 in shape and math.prod(shape) >= 49 * 100 for shape in shapes), shapes


def test_trace_records_the_eager_computation():
    module = MotionSqueeze(16, 3, reduced_channels=8, max_displacement=2).eval()
    randomize_norms(module)
    x = torch.randn(6, 16, 7, 5)
    with torch.no_grad():
        traced = torch.jit.trace(module, x, check_trace=False)
        assert torch.equal(traced(x), module(x))


def test_no_core_file_branches_on_tracing_or_compiling():
    pattern = re.compile(r'is_tracing|is_scripting|is_compiling|recording_a_graph')
    files = list((PACKAGE / 'ops').glob('*.py')) + list((PACKAGE / 'models').rglob('*.py'))
    assert len(files) > 5
    offenders = [str(f) for f in files if pattern.search(f.read_text())]
    assert not offenders


def test_relu_add_is_relu_plus_add_and_keeps_a_one_byte_mask():
    import sys
    sys.path.insert(0, str(PACKAGE.parent / 'tools' / 'analysis'))
    from profiling import kept_for_backward
    from ms_plugin.ops import relu_add
    y = torch.randn(4, 8, 5, 5, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 8, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(relu_add, (y, x))
    assert torch.autograd.gradgradcheck(relu_add, (y, x))
    assert torch.equal(relu_add(y, x), torch.relu(y) + x)
    kept, _ = kept_for_backward(lambda: relu_add(y * 1, x))
    assert kept.total == y.numel()  # the bool sign of y, nothing else
    with torch.no_grad():
        assert kept_for_backward(lambda: relu_add(y, x))[0].total == 0
