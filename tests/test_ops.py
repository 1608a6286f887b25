"""Tests of the pure ops: local correlation and (kernel-)soft-argmax."""
import pytest
import torch

from ms_plugin.ops import (CORRELATION_IMPLS, displacement_grid, kernel_soft_argmax, l2_normalize,
                           local_correlation, naive_local_correlation)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def loop_correlation(f1, f2, d):
    """Per-position, per-displacement loop: the definition, borders included."""
    n, c, h, w = f1.shape
    p = 2 * d + 1
    out = torch.zeros(n, p * p, h, w, dtype=torch.float64)
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            k = (dy + d) * p + (dx + d)
            for y in range(h):
                for x in range(w):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        out[:, k, y, x] = (f1[:, :, y, x].double()
                                           * f2[:, :, y + dy, x + dx].double()).sum(1)
    return out


def reference_soft_argmax(corr, d, sigma, temperature):
    """The reference's formulation: flat [N, K, H*W], Gaussian on the full grid."""
    n, k, h, w = corr.shape
    p = 2 * d + 1
    flat = corr.reshape(n, k, h * w)
    idx = flat.max(dim=1)[1]
    idx_y = (idx // p).view(n, 1, 1, h * w).double()
    idx_x = (idx % p).view(n, 1, 1, h * w).double()
    xs = torch.arange(p, dtype=torch.float64).view(1, 1, p, 1)
    ys = torch.arange(p, dtype=torch.float64).view(1, p, 1, 1)
    gauss = torch.exp(-((xs - idx_x) ** 2 + (ys - idx_y) ** 2) / (2 * sigma ** 2))
    prob = torch.softmax(flat * gauss.view(n, k, h * w) * temperature, dim=1)
    prob = prob.view(n, p, p, h * w)
    offsets = torch.arange(-d, d + 1, dtype=torch.float64).view(1, p, 1)
    flow_x = (prob.sum(1) * offsets).sum(1) / d
    flow_y = (prob.sum(2) * offsets).sum(1) / d
    conf = flat.max(dim=1)[0]
    return (torch.stack([flow_x, flow_y], 1).view(n, 2, h, w), conf.view(n, 1, h, w))


@pytest.mark.parametrize('shape,d', [((2, 3, 5, 7), 2), ((1, 4, 9, 4), 3), ((1, 2, 1, 1), 7),
                                     ((2, 3, 3, 11), 1), ((1, 2, 4, 4), 0), ((3, 2, 1, 5), 3),
                                     ((2, 2, 3, 2), 4)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_correlation_matches_definition(shape, d, channels_last):
    f1 = torch.randn(shape, dtype=torch.float64)
    f2 = torch.randn(shape, dtype=torch.float64)
    if channels_last:  # the target is read in another layout then
        f1 = f1.contiguous(memory_format=torch.channels_last)
        f2 = f2.contiguous(memory_format=torch.channels_last)
    out = local_correlation(f1, f2, d)
    assert out.shape == (shape[0], (2 * d + 1) ** 2, shape[2], shape[3])
    torch.testing.assert_close(out, loop_correlation(f1, f2, d), rtol=1e-10, atol=1e-10)


def test_naive_matches_definition():
    f1, f2 = torch.randn(2, 1, 3, 6, 5, dtype=torch.float64)
    torch.testing.assert_close(naive_local_correlation(f1, f2, 3), loop_correlation(f1, f2, 3))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_correlation_low_precision_accumulates_in_float32(dtype):
    # 256 channels: summing bf16 products in bf16 would be off by ~1e-1 here.
    f1 = torch.randn(1, 256, 6, 6).to(dtype)
    f2 = torch.randn(1, 256, 6, 6).to(dtype)
    out = local_correlation(f1, f2, 2)
    assert out.dtype == dtype
    exact = naive_local_correlation(f1.double(), f2.double(), 2)
    # Only the final rounding to `dtype` remains: relative error of one ulp.
    eps = torch.finfo(dtype).eps
    assert ((out.double() - exact).abs() <= exact.abs() * eps + 1e-3).all()


def test_correlation_under_autocast_is_accurate():
    f1 = torch.randn(2, 64, 7, 7)
    f2 = torch.randn(2, 64, 7, 7)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = local_correlation(f1, f2, 3)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, naive_local_correlation(f1, f2, 3), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('shape,d', [((2, 2, 4, 3), 2), ((1, 2, 2, 2), 3)])
def test_correlation_gradcheck(shape, d):
    f1 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: local_correlation(a, b, d), (f1, f2))


def test_correlation_rejects_bad_input():
    with pytest.raises(ValueError, match='same shape'):
        local_correlation(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match='max_displacement'):
        local_correlation(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), -1)


def test_displacement_grid_order():
    grid = displacement_grid(2)
    # k = (dy + d) * (2d + 1) + (dx + d)
    assert grid[:, 0].tolist() == [-2, -2]
    assert grid[:, 1].tolist() == [-1, -2]
    assert grid[:, 5].tolist() == [-2, -1]
    assert grid[:, 12].tolist() == [0, 0]


@pytest.mark.parametrize('dx,dy', [(3, -2), (-5, 1), (0, 4), (7, 7)])
def test_known_shift_is_recovered(dx, dy):
    d = 7
    f1 = torch.randn(2, 32, 24, 26)
    # f2(y + dy, x + dx) = f1(y, x)
    f2 = torch.roll(f1, shifts=(dy, dx), dims=(2, 3))
    f1, f2 = l2_normalize(f1), l2_normalize(f2)
    disp, conf = kernel_soft_argmax(local_correlation(f1, f2, d).relu(), d)
    inner = (slice(None), slice(None), slice(8, 16), slice(8, 18))  # away from the wrap
    assert torch.allclose(disp[:, 0][inner[0], inner[2], inner[3]], torch.tensor(dx / d),
                          atol=1e-4)
    assert torch.allclose(disp[:, 1][inner[0], inner[2], inner[3]], torch.tensor(dy / d),
                          atol=1e-4)
    assert (conf[inner] > 0.999).all()


def test_identical_frames_give_zero_displacement():
    f = l2_normalize(torch.randn(2, 16, 9, 11))
    disp, conf = kernel_soft_argmax(local_correlation(f, f, 7).relu())
    assert disp.abs().max() < 1e-4
    assert (conf > 0.999).all()


def test_zero_features_give_finite_outputs():
    f = l2_normalize(torch.zeros(1, 8, 5, 5))
    disp, conf = kernel_soft_argmax(local_correlation(f, f, 7).relu())
    assert torch.isfinite(disp).all() and torch.isfinite(conf).all()
    assert disp.abs().max() < 1e-6 and conf.abs().max() == 0


@pytest.mark.parametrize('d,sigma,temperature,signed', [
    (7, 5.0, 100.0, False), (3, 1.5, 10.0, False), (2, 0.7, 1.0, False),
    # Signed scores spread over +-500 logits: most are far below the largest.
    (7, 5.0, 100.0, True), (2, 3.0, 100.0, True)])
def test_kernel_soft_argmax_matches_reference_formulation(d, sigma, temperature, signed):
    corr = torch.rand(3, (2 * d + 1) ** 2, 5, 6, dtype=torch.float64)
    if signed:
        corr = 10 * corr - 5
    disp, conf = kernel_soft_argmax(corr, d, sigma, temperature)
    ref_disp, ref_conf = reference_soft_argmax(corr, d, sigma, temperature)
    torch.testing.assert_close(disp, ref_disp)
    torch.testing.assert_close(conf, ref_conf)


def test_soft_argmax_modes_differ_as_expected():
    d = 2
    corr = torch.zeros(1, 25, 1, 1)
    corr[0, 0] = 0.9   # (dx, dy) = (-2, -2): the argmax
    corr[0, 24] = 0.8  # (2, 2): far from the argmax, damped by the kernel only
    hard, _ = kernel_soft_argmax(corr, d, mode='hard')
    kernel, _ = kernel_soft_argmax(corr, d, sigma=1.0, temperature=10.0, mode='kernel')
    plain, _ = kernel_soft_argmax(corr, d, temperature=10.0, mode='plain')
    assert hard.flatten().tolist() == [-1.0, -1.0]
    # The plain softmax is pulled towards (2, 2) much more than the kernel one.
    assert plain[0, 0, 0, 0] > kernel[0, 0, 0, 0] > -1.0
    assert (plain.abs() <= 1).all() and (kernel.abs() <= 1).all()


@pytest.mark.parametrize('mode', ['kernel', 'plain'])
def test_soft_argmax_gradcheck(mode):
    corr = torch.rand(1, 9, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda c: kernel_soft_argmax(c, 1, sigma=1.0, temperature=3.0, mode=mode), (corr,))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_soft_argmax_low_precision(dtype):
    corr = torch.rand(1, 225, 4, 4)
    disp, conf = kernel_soft_argmax(corr.to(dtype))
    ref, _ = kernel_soft_argmax(corr.to(dtype).float())
    assert disp.dtype == dtype and conf.dtype == dtype
    torch.testing.assert_close(disp.float(), ref, atol=1e-2, rtol=0)


def test_soft_argmax_rejects_bad_input():
    with pytest.raises(ValueError, match='225'):
        kernel_soft_argmax(torch.zeros(1, 9, 2, 2))
    with pytest.raises(ValueError, match='mode'):
        kernel_soft_argmax(torch.zeros(1, 225, 2, 2), mode='argmax')
    with pytest.raises(ValueError, match='temperature must be positive'):
        kernel_soft_argmax(torch.zeros(1, 225, 2, 2), temperature=0.0)
    with pytest.raises(ValueError, match='sigma must be positive'):
        kernel_soft_argmax(torch.zeros(1, 225, 2, 2), sigma=-1.0)
    # The hard argmax uses neither.
    kernel_soft_argmax(torch.zeros(1, 225, 2, 2), temperature=0.0, sigma=0.0, mode='hard')


def test_ops_compile_without_graph_breaks():
    torch._dynamo.reset()

    def motion(f1, f2):
        corr = local_correlation(l2_normalize(f1), l2_normalize(f2), 3).relu()
        return kernel_soft_argmax(corr, 3, 2.0, 50.0)

    compiled = torch.compile(motion, backend='aot_eager', fullgraph=True)
    f1 = torch.randn(2, 8, 6, 5, requires_grad=True)
    f2 = torch.randn(2, 8, 6, 5)
    disp, conf = compiled(f1, f2)
    ref_disp, ref_conf = motion(f1, f2)
    torch.testing.assert_close(disp, ref_disp)
    torch.testing.assert_close(conf, ref_conf)
    (disp.sum() + conf.sum()).backward()
    assert f1.grad is not None and torch.isfinite(f1.grad).all()


@pytest.mark.parametrize('impl', CORRELATION_IMPLS)
@pytest.mark.parametrize('shape,d', [((2, 3, 6, 7), 2), ((2, 3, 7, 6), 3), ((3, 2, 1, 5), 3),
                                     ((1, 2, 4, 1), 2), ((1, 2, 3, 3), 5), ((1, 2, 4, 4), 0)])
def test_correlation_matches_definition_for_any_shape(shape, d, impl):
    # Odd and even heights, single rows and columns, offsets larger than the map.
    f1 = torch.randn(shape, dtype=torch.float64)
    f2 = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(local_correlation(f1, f2, d, impl), loop_correlation(f1, f2, d))


@pytest.mark.parametrize('impl', CORRELATION_IMPLS[1:])
def test_correlation_impls_agree_in_value_and_gradient(impl):
    # Every implementation of the table against the first one.
    f1 = torch.randn(3, 8, 10, 9, dtype=torch.float64, requires_grad=True)
    f2 = torch.randn(3, 8, 10, 9, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 49, 10, 9, dtype=torch.float64)
    grads = []
    for name in (CORRELATION_IMPLS[0], impl):
        out = local_correlation(f1, f2, 3, name)
        grads.append(torch.autograd.grad((out * weights).sum(), (f1, f2)) + (out.detach(), ))
    for first, other in zip(*grads):
        torch.testing.assert_close(first, other)


def test_correlation_rejects_an_unknown_impl():
    f1 = torch.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match='impl must be one of'):
        local_correlation(f1, f1, 1, 'fast')


@pytest.mark.parametrize('impl', CORRELATION_IMPLS)
def test_correlation_is_the_same_with_and_without_autograd(impl):
    f1 = torch.randn(3, 8, 9, 10)
    f2 = torch.randn(3, 8, 9, 10)
    with torch.no_grad():
        plain = local_correlation(f1, f2, 3, impl)
    traced = local_correlation(f1.clone().requires_grad_(), f2.clone().requires_grad_(), 3, impl)
    assert torch.equal(plain, traced.detach())


def test_correlation_does_not_mix_maps_of_a_batch():
    # Vertical offsets past a map's edge must read zeros, not the next map's rows.
    f1 = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    f2 = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    out = local_correlation(f1, f2, 3)
    for i in range(3):
        torch.testing.assert_close(out[i:i + 1], loop_correlation(f1[i:i + 1], f2[i:i + 1], 3))


def test_correlation_on_a_large_map():
    f1 = torch.randn(2, 8, 40, 37)
    f2 = torch.randn(2, 8, 40, 37)
    torch.testing.assert_close(local_correlation(f1, f2, 7), naive_local_correlation(f1, f2, 7),
                               rtol=1e-5, atol=1e-5)


def test_ops_serve_training_after_inference_mode():
    # Nothing built under inference_mode may leak into a later training step.
    f1, f2 = torch.randn(2, 1, 3, 5, 7)
    with torch.inference_mode():
        local_correlation(f1, f2, 2)
        kernel_soft_argmax(torch.rand(1, 25, 5, 7), 2)
    f1.requires_grad_(True)
    corr = local_correlation(f1, f2, 2).relu()
    disp, conf = kernel_soft_argmax(corr, 2)
    (disp.sum() + conf.sum()).backward()
    assert f1.grad is not None and torch.isfinite(f1.grad).all()
