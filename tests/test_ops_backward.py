"""The ops that keep little for backward: correlation_soft_argmax and relu_add_."""
import pytest
import torch

from ms_plugin.ops import (CORRELATION_IMPLS, correlation_soft_argmax, kernel_soft_argmax,
                           local_correlation, local_correlation_backward, relu_add_,
                           soft_argmax_backward)
from ms_plugin.utils.profiling import saved_tensor_bytes

SHAPES = [((2, 3, 6, 7), 2), ((2, 3, 7, 6), 3), ((1, 2, 3, 3), 5), ((1, 2, 4, 1), 2),
          ((3, 2, 1, 5), 3), ((1, 2, 4, 4), 0)]  # odd/even H, W < 2d+1, d = 0


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def chain(f1, f2, d, sigma=5.0, temperature=100.0, mode='kernel', impl='strided'):
    """The chain as plain autograd sees it."""
    return kernel_soft_argmax(local_correlation(f1, f2, d, impl).relu(), d, sigma, temperature,
                              mode)


@pytest.mark.parametrize('impl', CORRELATION_IMPLS)
@pytest.mark.parametrize('mode', ['kernel', 'plain', 'hard'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_values_are_bitwise_those_of_the_chain(impl, mode, dtype):
    f1 = torch.nn.functional.normalize(torch.randn(3, 16, 10, 9, dtype=dtype), dim=1)
    f2 = torch.nn.functional.normalize(torch.randn(3, 16, 10, 9, dtype=dtype), dim=1)
    with torch.no_grad():
        expected = chain(f1, f2, 3, 2.0, 50.0, mode, impl)
        plain = correlation_soft_argmax(f1, f2, 3, 2.0, 50.0, mode, impl)
    traced = correlation_soft_argmax(f1.clone().requires_grad_(), f2, 3, 2.0, 50.0, mode, impl)
    for want, got, got_traced in zip(expected, plain, traced):
        assert torch.equal(want, got) and torch.equal(want, got_traced.detach())


@pytest.mark.parametrize('shape,d', SHAPES)
@pytest.mark.parametrize('mode', ['kernel', 'plain', 'hard'])
def test_gradcheck(shape, d, mode):
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: correlation_soft_argmax(a, b, d, 1.5, 3.0, mode), (f1, f2))


@pytest.mark.parametrize('impl', CORRELATION_IMPLS)
def test_gradient_is_that_of_the_chain(impl):
    # Real-like scale: temperature 100 on L2-normalised features.
    f1 = torch.nn.functional.normalize(torch.randn(2, 32, 12, 11, dtype=torch.float64), dim=1)
    f2 = torch.nn.functional.normalize(torch.randn(2, 32, 12, 11, dtype=torch.float64), dim=1)
    weights = torch.randn(2, 3, 12, 11, dtype=torch.float64)
    grads = []
    for fn in (chain, correlation_soft_argmax):
        a, b = f1.clone().requires_grad_(), f2.clone().requires_grad_()
        disp, conf = fn(a, b, 7, impl=impl)
        loss = (torch.cat([disp, conf], 1) * weights).sum()
        grads.append(torch.autograd.grad(loss, (a, b)))
    for want, got in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize('shape,d', SHAPES)
def test_correlation_backward_is_autograds(shape, d):
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(shape[0], (2 * d + 1) ** 2, shape[2], shape[3], dtype=torch.float64)
    expected = torch.autograd.grad(local_correlation(f1, f2, d), (f1, f2), grad)
    # [N, K, H, W] -> [N, H, W, K]: the op's layout
    got = local_correlation_backward(grad.permute(0, 2, 3, 1).contiguous(), f1.detach(),
                                     f2.detach(), d)
    for want, have in zip(expected, got):
        torch.testing.assert_close(have, want)


def test_soft_argmax_backward_is_autograds():
    corr = torch.rand(2, 49, 4, 5, dtype=torch.float64, requires_grad=True)
    grad_disp = torch.randn(2, 2, 4, 5, dtype=torch.float64)
    grad_conf = torch.randn(2, 1, 4, 5, dtype=torch.float64)
    disp, conf = kernel_soft_argmax(corr, 3, 2.0, 20.0)
    expected, = torch.autograd.grad((disp, conf), corr, (grad_disp, grad_conf))
    got = soft_argmax_backward(corr.detach(), grad_disp, grad_conf, 3, 2.0, 20.0)
    torch.testing.assert_close(got.permute(0, 3, 1, 2), expected)  # [N, H, W, K] -> [N, K, H, W]


def test_only_the_feature_maps_are_kept_for_backward():
    f1 = torch.randn(7, 64, 14, 14, requires_grad=True)
    f2 = torch.randn(7, 64, 14, 14, requires_grad=True)
    kept = saved_tensor_bytes(correlation_soft_argmax(f1, f2, 7))
    assert kept.total == 2 * f1.numel() * 4
    # Through autograd the chain keeps four [7, 225, 14, 14] tensors besides.
    assert saved_tensor_bytes(chain(f1, f2, 7)).total > 4 * 7 * 225 * 14 * 14 * 4


def test_low_precision_gradients_come_back_in_the_input_dtype():
    f1 = torch.randn(2, 8, 5, 6, dtype=torch.bfloat16, requires_grad=True)
    f2 = torch.randn(2, 8, 5, 6, dtype=torch.bfloat16, requires_grad=True)
    disp, conf = correlation_soft_argmax(f1, f2, 2, 2.0, 10.0)
    assert disp.dtype == conf.dtype == torch.bfloat16
    (disp.float().sum() + conf.float().sum()).backward()
    assert f1.grad.dtype == f2.grad.dtype == torch.bfloat16
    assert torch.isfinite(f1.grad).all() and torch.isfinite(f2.grad).all()


def test_compiles_without_graph_breaks():
    torch._dynamo.reset()
    compiled = torch.compile(correlation_soft_argmax, backend='aot_eager', fullgraph=True)
    f1 = torch.randn(2, 8, 6, 5, requires_grad=True)
    f2 = torch.randn(2, 8, 6, 5, requires_grad=True)
    disp, conf = compiled(f1, f2, 3, 2.0, 50.0)
    ref_disp, ref_conf = correlation_soft_argmax(f1, f2, 3, 2.0, 50.0)
    torch.testing.assert_close(disp, ref_disp)
    torch.testing.assert_close(conf, ref_conf)
    (disp.sum() + conf.sum()).backward()
    assert f1.grad is not None and torch.isfinite(f2.grad).all()


def _branch(shape, dtype=torch.float32):
    """A leaf and the non-leaf pre-activation made from it (``relu_add_`` writes into it)."""
    leaf = torch.randn(shape, dtype=dtype, requires_grad=True)
    return leaf, leaf * 1


def test_relu_add_is_the_sum_in_place_and_keeps_a_mask():
    x = torch.randn(4, 8, 5, 5, requires_grad=True)
    leaf, y = _branch(x.shape)
    expected_out = torch.relu(y.detach()) + x.detach()
    out = relu_add_(y, x)
    assert out is y and torch.equal(out, expected_out)
    kept = saved_tensor_bytes(out)
    mask = [size for node, _, size in kept.by_node if node.endswith('ReLUAddBackward')]
    assert mask == [y.numel()]  # one byte per element
    weights = torch.randn_like(x)
    grads = torch.autograd.grad((out * weights).sum(), (x, leaf))
    expected = torch.autograd.grad(((torch.relu(leaf * 1) + x) * weights).sum(), (x, leaf))
    for mine, plain in zip(grads, expected):
        assert torch.equal(mine, plain)


def test_relu_add_keeps_nothing_without_a_gradient_for_the_branch():
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    y = torch.randn(2, 4, 3, 3)
    expected = torch.relu(y) + x.detach()
    out = relu_add_(y, x)
    assert saved_tensor_bytes(out).by_node == [] and torch.equal(out, expected)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_relu_add_refuses_what_it_cannot_write_in_place():
    with pytest.raises(ValueError, match='one shape and dtype'):
        relu_add_(torch.randn(2, 3, dtype=torch.bfloat16), torch.randn(2, 3))
    # A pre-activation that autograd keeps for another node: backward says so.
    x = torch.randn(2, 3)
    leaf, y = _branch((2, 3))
    other = y * y  # keeps y for its backward
    out = relu_add_(y, x)
    with pytest.raises(RuntimeError, match='inplace'):
        (out.sum() + other.sum()).backward()


def test_a_trace_records_the_chains_operators():
    # The TorchScript ONNX exporter and MMEngine's FLOP counter trace the model:
    # they must see the matrix products, not one opaque Python node.
    f1 = torch.randn(2, 8, 6, 5, requires_grad=True)
    f2 = torch.randn(2, 8, 6, 5)

    def motion(a, b):
        disp, conf = correlation_soft_argmax(a, b, 2, 2.0, 10.0)
        return relu_add_(disp[:, :1].clone(), conf), conf

    graph = torch.jit.trace(motion, (f1, f2), check_trace=False).graph
    kinds = {node.kind() for node in graph.nodes()}
    assert 'aten::bmm' in kinds and 'aten::matmul' in kinds and 'aten::relu' in kinds
    assert 'prim::PythonOp' not in kinds
