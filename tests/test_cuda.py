"""The CUDA path: ops and module equal to the CPU's, autocast, torch.compile, the tools on a GPU.

Every test here is marked ``cuda`` and skipped without a CUDA device;
``tools/analysis/gpu_check.py`` (``make gpu-check``) runs them with ``-m cuda``.
"""
import contextlib
import pickle

import pytest
import torch
from conftest import REPO_ROOT, VENV_BIN, run_tool, subprocess_env

from ms_plugin.models import MotionSqueeze
from ms_plugin.ops import (CORRELATION_IMPLS, correlation_motion, kernel_soft_argmax,
                           l2_normalize, local_correlation)

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]
VIDEO_CFG = REPO_ROOT / 'tests' / 'configs' / 'tiny_msnet_video.py'


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@contextlib.contextmanager
def _no_tf32():
    """Full float32 matrix products and convs, so that CUDA and CPU compare at 1e-5."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize('impl', CORRELATION_IMPLS)
def test_ops_equal_on_cpu_and_cuda(impl):
    f1 = l2_normalize(torch.randn(7, 64, 28, 28))
    f2 = l2_normalize(torch.randn(7, 64, 28, 28))
    results = []
    with _no_tf32():
        for device in ('cpu', 'cuda'):
            a = f1.to(device).requires_grad_()
            b = f2.to(device).requires_grad_()
            corr = local_correlation(a, b, 7, impl)
            disp, conf = correlation_motion(a, b, 7, impl=impl).split([2, 1], dim=1)
            (disp.square().sum() + conf.sum()).backward()
            plain = kernel_soft_argmax(corr.detach().relu())
            results.append([t.detach().cpu() for t in (corr, disp, conf, *plain, a.grad, b.grad)])
    for cpu, cuda in zip(*results):
        torch.testing.assert_close(cuda, cpu, rtol=1e-4, atol=1e-5)


def test_module_equal_on_cpu_and_cuda():
    module = MotionSqueeze(128, 4, max_displacement=7)
    x = torch.randn(2 * 4, 128, 28, 28)
    results = []
    with _no_tf32():
        for device in ('cpu', 'cuda'):
            module.to(device).zero_grad()
            inp = x.to(device).requires_grad_()
            out = module(inp)
            out.square().mean().backward()
            results.append([out.detach().cpu(), inp.grad.cpu(),
                            module.reduce.conv.weight.grad.cpu()])
    for cpu, cuda in zip(*results):
        torch.testing.assert_close(cuda, cpu, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_is_finite_and_close(dtype):
    module = MotionSqueeze(128, 4).cuda()
    x = torch.randn(8, 128, 28, 28, device='cuda', requires_grad=True)
    with _no_tf32():  # the 1x1 reduction and the matching run in float32 under autocast
        with torch.no_grad():
            ref = module.estimate_motion(x)
        with torch.autocast('cuda', dtype=dtype):
            out = module(x)
            motion = module.estimate_motion(x)
    out.float().square().mean().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert motion.dtype == torch.float32
    assert (motion - ref).abs().max() <= 1e-3


def test_torch_compile_matches_eager():
    torch._dynamo.reset()
    module = MotionSqueeze(128, 4).cuda()
    compiled = torch.compile(module)
    x = torch.randn(8, 128, 28, 28, device='cuda')
    with _no_tf32():
        out = compiled(x)
        torch.testing.assert_close(out, module(x), rtol=1e-3, atol=1e-3)
        out.square().mean().backward()
    assert torch.isfinite(module.reduce.conv.weight.grad).all()


def test_train_then_test_on_one_gpu(tiny_data, tmp_path):
    """One epoch of tools/train.py with AMP on the GPU, then tools/test.py on its checkpoint."""
    env = subprocess_env(tiny_data)
    work_dir = tmp_path / 'train'
    run_tool([VENV_BIN / 'python', REPO_ROOT / 'tools' / 'train.py', VIDEO_CFG,
              '--work-dir', work_dir, '--amp', '--cfg-options', 'train_cfg.max_epochs=1'],
             env, cwd=tmp_path)
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    dump = tmp_path / 'predictions.pkl'
    run_tool([VENV_BIN / 'python', REPO_ROOT / 'tools' / 'test.py', VIDEO_CFG, checkpoint,
              '--work-dir', tmp_path / 'test', '--dump', dump], env, cwd=tmp_path)
    with open(dump, 'rb') as file:
        predictions = pickle.load(file)
    assert predictions and all(torch.isfinite(torch.as_tensor(p['pred_score'])).all()
                               for p in predictions)
